//! What one store has not acknowledged yet, on disk: one file per batch, named
//! `<sequence>.<kind>.json`, holding the JSON array exactly as it is posted.
//!
//! A file per batch rather than a database: a batch is written whole or not at
//! all (written to a temporary name, fsync'd, renamed, and the folder fsync'd),
//! so a SIGKILL at any moment leaves either the batch or nothing, never half of
//! one; delivery order is the order of the names; an acknowledged batch is one
//! unlink; and an operator can read what waits with `cat`. A removal lost to a
//! crash only sends that batch again, which the store stores once (same `id`
//! and `observed_at`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use container_info_wire::Snapshot;
use serde_json::Value;

use crate::error::AgentError;

/// What a batch reports, which decides what the outbox's bound may drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A change of what a snapshot says (a start, a stop, a rename, a removal,
    /// or the full sync at start): never dropped.
    State,
    /// A periodic resync that only refreshes stats: dropped first when the
    /// outbox is over its bound, as the next resync says it again.
    Stats,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::Stats => "stats",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "state" => Some(Self::State),
            "stats" => Some(Self::Stats),
            _ => None,
        }
    }
}

/// A batch waiting for its store.
pub(crate) struct Pending {
    pub(crate) sequence: u64,
    pub(crate) body: Vec<u8>,
}

/// What a push did to the outbox.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// Snapshots of stats-only batches dropped to stay under the bound.
    pub(crate) dropped_snapshots: u64,
    /// Whether the outbox holds more than its bound anyway, because only
    /// changes of state were left and those are never dropped.
    pub(crate) over_bound: bool,
}

pub(crate) struct Outbox {
    folder: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    next: u64,
    /// By sequence: the batch's kind, size and snapshot count.
    batches: BTreeMap<u64, Entry>,
    bytes: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    kind: Kind,
    bytes: u64,
    snapshots: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox in `folder`, taking in the batches a previous
    /// run left and discarding its half-written temporary files.
    pub(crate) fn open(folder: PathBuf, max_bytes: u64) -> Result<Self, AgentError> {
        let failed = |doing| {
            let folder = folder.clone();
            move |source| AgentError::Outbox {
                path: folder,
                doing,
                source,
            }
        };
        fs::create_dir_all(&folder).map_err(failed("creating the outbox folder"))?;
        let mut index = Index::default();
        for entry in fs::read_dir(&folder).map_err(failed("listing the outbox"))? {
            let entry = entry.map_err(failed("listing the outbox"))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                fs::remove_file(entry.path()).map_err(failed("removing a half-written batch"))?;
                continue;
            }
            let Some((sequence, kind)) = parse_name(&name) else {
                continue;
            };
            let body = fs::read(entry.path()).map_err(failed("reading a waiting batch"))?;
            let snapshots =
                serde_json::from_slice::<Vec<Value>>(&body).map_or(0, |items| items.len() as u64);
            index.insert(
                sequence,
                Entry {
                    kind,
                    bytes: body.len() as u64,
                    snapshots,
                },
            );
            index.next = index.next.max(sequence + 1);
        }
        Ok(Self {
            folder,
            max_bytes,
            index: Mutex::new(index),
        })
    }

    // A panic while holding the lock leaves at worst a file the index does not
    // count, which the next start counts again.
    fn lock(&self) -> MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn path(&self, sequence: u64, kind: Kind) -> PathBuf {
        self.folder
            .join(format!("{sequence:020}.{}.json", kind.as_str()))
    }

    fn failed(&self, doing: &'static str) -> impl Fn(io::Error) -> AgentError + '_ {
        move |source| AgentError::Outbox {
            path: self.folder.clone(),
            doing,
            source,
        }
    }

    /// Writes a batch of `snapshots` snapshots, durably, after every batch
    /// already waiting; makes room first by dropping the oldest stats-only
    /// batches (the new one too, when it is one and still does not fit).
    pub(crate) fn push(
        &self,
        kind: Kind,
        body: &[u8],
        snapshots: u64,
    ) -> Result<Pushed, AgentError> {
        let mut index = self.lock();
        let mut pushed = Pushed::default();
        let size = body.len() as u64;
        while index.bytes + size > self.max_bytes {
            let Some((&sequence, &entry)) = index
                .batches
                .iter()
                .find(|(_, entry)| entry.kind == Kind::Stats)
            else {
                break;
            };
            self.unlink(sequence, entry.kind)?;
            index.remove(sequence);
            pushed.dropped_snapshots += entry.snapshots;
        }
        if index.bytes + size > self.max_bytes && kind == Kind::Stats {
            pushed.dropped_snapshots += snapshots;
            return Ok(pushed);
        }
        let sequence = index.next;
        self.write(&self.path(sequence, kind), body)?;
        index.next += 1;
        index.insert(
            sequence,
            Entry {
                kind,
                bytes: size,
                snapshots,
            },
        );
        pushed.over_bound = index.bytes > self.max_bytes;
        Ok(pushed)
    }

    /// The oldest batch waiting, if any.
    pub(crate) fn oldest(&self) -> Result<Option<Pending>, AgentError> {
        let index = self.lock();
        let Some((&sequence, entry)) = index.batches.iter().next() else {
            return Ok(None);
        };
        let body = fs::read(self.path(sequence, entry.kind))
            .map_err(self.failed("reading a waiting batch"))?;
        Ok(Some(Pending { sequence, body }))
    }

    /// The store has the batch: it leaves the outbox (unless the bound dropped
    /// it meanwhile).
    pub(crate) fn acknowledge(&self, sequence: u64) -> Result<(), AgentError> {
        let mut index = self.lock();
        if let Some(entry) = index.batches.get(&sequence).copied() {
            self.unlink(sequence, entry.kind)?;
            index.remove(sequence);
        }
        Ok(())
    }

    /// Puts `body` in place of the batch's content (the batch less an item the
    /// store refused), written as durably as a new batch.
    pub(crate) fn replace(&self, sequence: u64, body: &[u8]) -> Result<(), AgentError> {
        let mut index = self.lock();
        let Some(entry) = index.batches.get(&sequence).copied() else {
            return Ok(());
        };
        let snapshots = serde_json::from_slice::<Vec<Value>>(body).map_or(0, |v| v.len() as u64);
        if snapshots == 0 {
            self.unlink(sequence, entry.kind)?;
            index.remove(sequence);
            return Ok(());
        }
        self.write(&self.path(sequence, entry.kind), body)?;
        index.remove(sequence);
        index.insert(
            sequence,
            Entry {
                kind: entry.kind,
                bytes: body.len() as u64,
                snapshots,
            },
        );
        Ok(())
    }

    /// Every snapshot waiting, oldest first.
    pub(crate) fn waiting(&self) -> Result<Vec<Snapshot>, AgentError> {
        let index = self.lock();
        let mut waiting = Vec::new();
        for (&sequence, entry) in &index.batches {
            let body = fs::read(self.path(sequence, entry.kind))
                .map_err(self.failed("reading a waiting batch"))?;
            // Only the agent writes these; one it cannot read is skipped here
            // as the sender skips it.
            waiting.extend(serde_json::from_slice::<Vec<Snapshot>>(&body).unwrap_or_default());
        }
        Ok(waiting)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Temporary name, fsync, rename, fsync of the folder: the name appears only
    /// once the whole content is on disk, and the rename itself survives a crash.
    fn write(&self, path: &Path, body: &[u8]) -> Result<(), AgentError> {
        let temporary = path.with_extension("tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)
            .map_err(self.failed("writing a batch"))?;
        file.write_all(body)
            .and_then(|()| file.sync_all())
            .map_err(self.failed("writing a batch"))?;
        fs::rename(&temporary, path).map_err(self.failed("naming a written batch"))?;
        self.sync_folder()
    }

    fn unlink(&self, sequence: u64, kind: Kind) -> Result<(), AgentError> {
        match fs::remove_file(self.path(sequence, kind)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(self.failed("removing a batch")(error))
            }
            _ => Ok(()),
        }
    }

    fn sync_folder(&self) -> Result<(), AgentError> {
        File::open(&self.folder)
            .and_then(|folder| folder.sync_all())
            .map_err(self.failed("syncing the outbox folder"))
    }
}

impl Index {
    fn insert(&mut self, sequence: u64, entry: Entry) {
        self.bytes += entry.bytes;
        self.batches.insert(sequence, entry);
    }

    fn remove(&mut self, sequence: u64) {
        if let Some(entry) = self.batches.remove(&sequence) {
            self.bytes -= entry.bytes;
        }
    }
}

/// `00000000000000000042.state.json` → (42, State).
fn parse_name(name: &str) -> Option<(u64, Kind)> {
    let stem = name.strip_suffix(".json")?;
    let (sequence, kind) = stem.split_once('.')?;
    Some((sequence.parse().ok()?, Kind::parse(kind)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Vec<u8> {
        serde_json::to_vec(&vec![serde_json::json!({"n": "x".repeat(90)}); n]).unwrap()
    }

    #[test]
    fn batches_come_back_in_order_after_a_reopen_and_leave_when_acknowledged() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("store");
        let outbox = Outbox::open(path.clone(), u64::MAX).unwrap();
        outbox.push(Kind::State, &batch(1), 1).unwrap();
        outbox.push(Kind::Stats, &batch(2), 2).unwrap();
        // A write a SIGKILL cut short: never taken for a batch.
        fs::write(path.join("00000000000000000002.state.tmp"), b"[{\"half").unwrap();
        drop(outbox);

        let outbox = Outbox::open(path.clone(), u64::MAX).unwrap();
        assert!(!path.join("00000000000000000002.state.tmp").exists());
        let first = outbox.oldest().unwrap().unwrap();
        assert_eq!((first.sequence, first.body), (0, batch(1)));
        outbox.acknowledge(0).unwrap();
        outbox.push(Kind::State, &batch(3), 3).unwrap();
        let second = outbox.oldest().unwrap().unwrap();
        assert_eq!((second.sequence, second.body), (1, batch(2)));
        outbox.acknowledge(1).unwrap();
        // Numbered after what the previous run left, so order holds across runs.
        assert_eq!(outbox.oldest().unwrap().unwrap().sequence, 2);
        outbox.acknowledge(2).unwrap();
        assert!(outbox.oldest().unwrap().is_none());
        assert_eq!(outbox.bytes(), 0);
        assert_eq!(fs::read_dir(&path).unwrap().count(), 0);
    }

    #[test]
    fn over_its_bound_it_drops_stats_first_and_never_a_change_of_state() {
        let folder = tempfile::tempdir().unwrap();
        let one = batch(1).len() as u64;
        let outbox = Outbox::open(folder.path().to_owned(), 3 * one).unwrap();
        outbox.push(Kind::Stats, &batch(1), 1).unwrap();
        outbox.push(Kind::State, &batch(1), 1).unwrap();
        outbox.push(Kind::Stats, &batch(1), 1).unwrap();
        // Room for a fourth only by dropping the oldest stats batch.
        let pushed = outbox.push(Kind::State, &batch(1), 1).unwrap();
        assert_eq!(pushed.dropped_snapshots, 1);
        assert_eq!(outbox.oldest().unwrap().unwrap().sequence, 1);
        // The other stats batch goes too, and then the bound is exceeded
        // rather than a change of state lost.
        let pushed = outbox.push(Kind::State, &batch(2), 2).unwrap();
        assert_eq!(
            pushed,
            Pushed {
                dropped_snapshots: 1,
                over_bound: true
            }
        );
        // A stats batch that cannot fit is not written at all.
        let pushed = outbox.push(Kind::Stats, &batch(1), 1).unwrap();
        assert_eq!(pushed.dropped_snapshots, 1);
        let names: Vec<_> = fs::read_dir(folder.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".stats.json"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
