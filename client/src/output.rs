//! How results look: aligned tables and detail blocks for a person, JSON for
//! programs.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use container_info_wire::{ContainerState, Snapshot, Stats, StoredSnapshot};
use serde::Serialize;

const MIB: f64 = 1024.0 * 1024.0;
const COLUMN_GAP: &str = "   ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paint {
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
}

/// `text` in ANSI colour when colour is wanted, as it is otherwise.
pub(crate) fn paint(text: &str, paint: Paint, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match paint {
        Paint::Bold => "1",
        Paint::Dim => "2",
        Paint::Green => "32",
        Paint::Yellow => "33",
        Paint::Red => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub(crate) fn state_paint(state: ContainerState) -> Paint {
    match state {
        ContainerState::Running => Paint::Green,
        ContainerState::Exited | ContainerState::Dead | ContainerState::Removed => Paint::Red,
        _ => Paint::Yellow,
    }
}

/// "3 minutes ago", as `docker ps` says it.
pub(crate) fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    if seconds < -5 {
        return "in the future".to_owned();
    }
    let (count, unit) = match seconds {
        ..5 => return "just now".to_owned(),
        5..60 => (seconds, "second"),
        60..3600 => (seconds / 60, "minute"),
        3600..86400 => (seconds / 3600, "hour"),
        _ => (seconds / 86400, "day"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural} ago")
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

fn timestamp(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", ago(at, now), at.format("%Y-%m-%d %H:%M:%S UTC"))
}

pub(crate) struct Cell {
    text: String,
    paint: Option<Paint>,
}

impl Cell {
    pub(crate) fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            paint: None,
        }
    }

    pub(crate) fn painted(text: impl Into<String>, paint: Paint) -> Self {
        Self {
            text: text.into(),
            paint: Some(paint),
        }
    }
}

/// A table printed a page at a time: the header once, and columns that only
/// grow, so that later pages line up with earlier ones as far as they can.
pub(crate) struct Table {
    headers: &'static [&'static str],
    widths: Vec<usize>,
    rows_printed: usize,
    color: bool,
}

impl Table {
    pub(crate) fn new(headers: &'static [&'static str], color: bool) -> Self {
        Self {
            headers,
            widths: headers
                .iter()
                .map(|header| header.chars().count())
                .collect(),
            rows_printed: 0,
            color,
        }
    }

    pub(crate) fn print(&mut self, out: &mut dyn Write, rows: Vec<Vec<Cell>>) -> io::Result<()> {
        for row in &rows {
            for (width, cell) in self.widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        if self.rows_printed == 0 && !rows.is_empty() {
            let header: Vec<Cell> = self
                .headers
                .iter()
                .map(|header| Cell::painted(*header, Paint::Bold))
                .collect();
            self.line(out, &header)?;
        }
        for row in &rows {
            self.line(out, row)?;
        }
        self.rows_printed += rows.len();
        Ok(())
    }

    pub(crate) fn rows_printed(&self) -> usize {
        self.rows_printed
    }

    fn line(&self, out: &mut dyn Write, row: &[Cell]) -> io::Result<()> {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(&self.widths).enumerate() {
            let last = index + 1 == row.len();
            // Padding is added outside the colour codes so that columns line up.
            let padding = if last {
                String::new()
            } else {
                " ".repeat(width - cell.text.chars().count()) + COLUMN_GAP
            };
            let text = match cell.paint {
                Some(how) => paint(&cell.text, how, self.color),
                None => cell.text.clone(),
            };
            line.push_str(&text);
            line.push_str(&padding);
        }
        writeln!(out, "{line}")
    }
}

pub(crate) const CONTAINER_COLUMNS: &[&str] = &[
    "CONTAINER ID",
    "NAME",
    "IMAGE",
    "NODE",
    "STATE",
    "CPU",
    "MEMORY",
    "OBSERVED",
    "REPLICA",
];

pub(crate) fn container_row(stored: &StoredSnapshot, now: DateTime<Utc>) -> Vec<Cell> {
    let snapshot = &stored.snapshot;
    let (cpu, memory) = usage(snapshot);
    vec![
        Cell::plain(snapshot.id.short()),
        Cell::plain(&snapshot.name),
        Cell::plain(&snapshot.image),
        Cell::plain(&snapshot.node),
        Cell::painted(snapshot.state.as_str(), state_paint(snapshot.state)),
        Cell::plain(cpu),
        Cell::plain(memory),
        Cell::plain(ago(snapshot.observed_at, now)),
        Cell::plain(&stored.received_by),
    ]
}

pub(crate) const HISTORY_COLUMNS: &[&str] = &[
    "OBSERVED", "STATE", "CPU", "MEMORY", "PIDS", "REPLICA", "FROM",
];

pub(crate) fn history_row(stored: &StoredSnapshot, now: DateTime<Utc>) -> Vec<Cell> {
    let snapshot = &stored.snapshot;
    let (cpu, memory) = usage(snapshot);
    let pids = snapshot
        .stats
        .as_ref()
        .map_or("-".to_owned(), |stats| stats.pids.to_string());
    vec![
        Cell::plain(ago(snapshot.observed_at, now)),
        Cell::painted(snapshot.state.as_str(), state_paint(snapshot.state)),
        Cell::plain(cpu),
        Cell::plain(memory),
        Cell::plain(pids),
        Cell::plain(&stored.received_by),
        Cell::plain(&stored.reporter_addr),
    ]
}

fn usage(snapshot: &Snapshot) -> (String, String) {
    match &snapshot.stats {
        Some(stats) => (
            format!("{:.1}%", stats.cpu_percent),
            mib(stats.memory_usage_bytes),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    }
}

/// One container, field by field; with the store's receipt when it has one.
pub(crate) fn detail(
    out: &mut dyn Write,
    snapshot: &Snapshot,
    stored: Option<&StoredSnapshot>,
    now: DateTime<Utc>,
    color: bool,
) -> io::Result<()> {
    let mut lines = identity_lines(snapshot, now, color);
    lines.extend(network_lines(snapshot));
    lines.extend(
        snapshot
            .labels
            .iter()
            .map(|(key, value)| ("Label", format!("{key}={value}"))),
    );
    if let Some(stats) = &snapshot.stats {
        lines.extend(stats_lines(stats));
    }
    lines.push(("Observed", timestamp(snapshot.observed_at, now)));
    if let Some(stored) = stored {
        lines.push(("Received", timestamp(stored.received_at, now)));
        lines.push(("Replica", stored.received_by.clone()));
        lines.push(("From", stored.reporter_addr.clone()));
    }
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in lines {
        let key = paint(&format!("{key:width$}"), Paint::Bold, color);
        writeln!(out, "{key}  {value}")?;
    }
    Ok(())
}

/// What the container is, where, and since when.
fn identity_lines(
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    color: bool,
) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("ID", snapshot.id.to_string()),
        ("Name", snapshot.name.clone()),
        ("Image", snapshot.image.clone()),
    ];
    if !snapshot.image_id.is_empty() {
        lines.push(("Image ID", snapshot.image_id.clone()));
    }
    lines.push(("Node", snapshot.node.clone()));
    lines.push((
        "State",
        paint(snapshot.state.as_str(), state_paint(snapshot.state), color),
    ));
    if let Some(created) = snapshot.created {
        lines.push(("Created", timestamp(created, now)));
    }
    if let Some(started) = snapshot.started_at {
        lines.push(("Started", timestamp(started, now)));
    }
    lines
}

/// One line per network: its addresses, and the gateway when there is one.
fn network_lines(snapshot: &Snapshot) -> impl Iterator<Item = (&'static str, String)> + '_ {
    snapshot.networks.iter().map(|(name, address)| {
        let addresses: Vec<&str> = [&address.ip_address, &address.ipv6_address]
            .into_iter()
            .filter(|ip| !ip.is_empty())
            .map(String::as_str)
            .collect();
        let mut text = format!("{name}: {}", addresses.join(", "));
        if !address.gateway.is_empty() {
            text.push_str(&format!(" (gateway {})", address.gateway));
        }
        ("Network", text)
    })
}

fn stats_lines(stats: &Stats) -> [(&'static str, String); 4] {
    let limit = match stats.memory_limit_bytes {
        0 => "(no limit)".to_owned(),
        limit => format!("of {}", mib(limit)),
    };
    [
        ("CPU", format!("{:.1}%", stats.cpu_percent)),
        (
            "Memory",
            format!("{} {limit}", mib(stats.memory_usage_bytes)),
        ),
        (
            "Net I/O",
            format!(
                "{} in, {} out",
                mib(stats.network_rx_bytes),
                mib(stats.network_tx_bytes)
            ),
        ),
        ("PIDs", stats.pids.to_string()),
    ]
}

pub(crate) fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// A JSON array written as its items arrive, so that a long list is never held
/// whole; one item per line.
#[derive(Default)]
pub(crate) struct JsonList {
    started: bool,
}

impl JsonList {
    pub(crate) fn items<T: Serialize>(
        &mut self,
        out: &mut dyn Write,
        items: &[T],
    ) -> io::Result<()> {
        for item in items {
            out.write_all(if self.started { b",\n" } else { b"[\n" })?;
            self.started = true;
            serde_json::to_writer(&mut *out, item)?;
        }
        Ok(())
    }

    pub(crate) fn finish(self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.started { b"\n]\n" } else { b"[]\n" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn relative_times_read_like_docker_ps() {
        let now = Utc::now();
        let before = |seconds| now - TimeDelta::seconds(seconds);
        assert_eq!(ago(before(2), now), "just now");
        assert_eq!(ago(before(1), now + TimeDelta::seconds(3)), "just now");
        assert_eq!(ago(before(42), now), "42 seconds ago");
        assert_eq!(ago(before(60), now), "1 minute ago");
        assert_eq!(ago(before(3 * 60 + 59), now), "3 minutes ago");
        assert_eq!(ago(before(2 * 3600), now), "2 hours ago");
        assert_eq!(ago(before(86400), now), "1 day ago");
        assert_eq!(ago(before(-60), now), "in the future");
    }

    #[test]
    fn sizes_are_in_mib() {
        assert_eq!(mib(52_428_800), "50.0 MiB");
        assert_eq!(mib(1_572_864), "1.5 MiB");
        assert_eq!(mib(0), "0.0 MiB");
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(paint("running", Paint::Green, false), "running");
        assert_eq!(
            paint("running", Paint::Green, true),
            "\x1b[32mrunning\x1b[0m"
        );
    }

    #[test]
    fn table_pages_keep_one_header_and_aligned_columns() {
        let mut table = Table::new(&["A", "LONGER"], false);
        let mut out = Vec::new();
        table
            .print(
                &mut out,
                vec![vec![Cell::plain("wide cell"), Cell::plain("x")]],
            )
            .unwrap();
        table
            .print(&mut out, vec![vec![Cell::plain("y"), Cell::plain("z")]])
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A           LONGER\nwide cell   x\ny           z\n"
        );
        assert_eq!(table.rows_printed(), 2);
    }

    #[test]
    fn a_json_list_is_one_array_however_many_pages() {
        let mut out = Vec::new();
        let mut list = JsonList::default();
        list.items(&mut out, &[1, 2]).unwrap();
        list.items::<i32>(&mut out, &[]).unwrap();
        list.items(&mut out, &[3]).unwrap();
        list.finish(&mut out).unwrap();
        let parsed: Vec<i32> = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, [1, 2, 3]);

        let mut empty = Vec::new();
        JsonList::default().finish(&mut empty).unwrap();
        assert_eq!(empty, b"[]\n");
    }
}
