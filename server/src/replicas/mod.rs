//! This replica among the others: its heartbeat in the roll call, its part in
//! the leader's lease, the leader-only work, and the role scripts.
//!
//! Every replica starts as a follower. A follower tries to take the lease when
//! it expires (or is given up); the leader renews it every third of its
//! duration. A leader counts itself the leader only until a margin before the
//! lease its last renewal bought could expire: a renewal that does not land in
//! time, or a process that was paused past that moment, makes it step down
//! before another replica can take the lease. The database has the last word
//! all the same: leader-only work is fenced by the lease's generation there
//! (see `storage::sqlite::replicas`, `storage::postgres::replicas`).

mod address;
mod scripts;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout_at};

use crate::config::Config;
use crate::storage::{
    Claimed, Fenced, Heartbeat, LeaderWork, RollCall, Storage, StorageError, Term,
};
pub(crate) use address::advertised_addresses;
pub(crate) use scripts::{Role, RoleScripts};

/// How often a replica writes its heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How often the leader asks SQLite to refresh its planner statistics
/// (`PRAGMA optimize`, which SQLite's documentation suggests every few hours
/// for long-lived connections); once after taking the lease too.
const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);

/// What this replica's part in the roll call and the lease needs.
pub(crate) struct Membership {
    pub store: Arc<dyn Storage>,
    pub beat: Heartbeat,
    pub lease: Duration,
    pub forget_after: Duration,
    pub scripts: RoleScripts,
    pub metrics: RoleMetrics,
}

pub(crate) struct RoleMetrics {
    /// 1 while this replica leads.
    pub leader: IntGauge,
    /// Times this replica became leader or follower, by role.
    pub role_changes: IntCounterVec,
    pub heartbeat_failures: IntCounter,
}

impl Membership {
    pub(crate) fn new(
        config: &Config,
        store: Arc<dyn Storage>,
        beat: Heartbeat,
        metrics: RoleMetrics,
        script_outcomes: IntCounterVec,
    ) -> Self {
        Self {
            scripts: RoleScripts::start(config, beat.id.clone(), script_outcomes),
            store,
            beat,
            lease: config.lease,
            forget_after: config.forget_replicas_after,
            metrics,
        }
    }

    /// Runs until `stop` turns true, then leaves the roll call and gives up
    /// the lease if it holds it.
    pub(crate) async fn run(self, stop: watch::Receiver<bool>) {
        let heartbeats = tokio::spawn(beat(
            self.store.clone(),
            self.beat.clone(),
            self.metrics.heartbeat_failures.clone(),
            stop.clone(),
        ));
        let mut leadership = Leadership {
            store: self.store.clone(),
            id: self.beat.id.clone(),
            lease: self.lease,
            forget_after: self.forget_after,
            scripts: self.scripts,
            metrics: self.metrics,
            held: None,
            stepped_down_from: None,
            pending: None,
            optimized_at: None,
        };
        let term = leadership.run(stop).await;
        // A panic there has been logged; leaving matters more.
        let _ = heartbeats.await;
        // A leader's --on-follower script runs before its lease is given up,
        // so that what it undoes is undone before another replica leads.
        leadership.scripts.finish().await;
        if let Some(term) = term
            && let Err(error) = self.store.release(term).await
        {
            tracing::warn!(%error, "could not give up the lease; it expires by itself");
        }
        match self.store.leave(self.beat.id.clone()).await {
            Ok(()) => tracing::info!("left the roll call"),
            Err(error) => {
                tracing::warn!(%error, "could not leave the roll call; the leader will forget this replica")
            }
        }
    }
}

/// Writes this replica's heartbeat every second until `stop`.
async fn beat(
    store: Arc<dyn Storage>,
    beat: Heartbeat,
    failures: IntCounter,
    mut stop: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(HEARTBEAT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = store.heartbeat(beat.clone()).await {
            failures.inc();
            tracing::warn!(%error, "heartbeat failed");
        }
    }
}

/// The lease this replica holds, and until when it counts itself the leader.
struct Held {
    term: Term,
    /// A margin before the lease its last renewal bought expires.
    until: Instant,
    /// The same moment on the wall clock, for the log.
    until_ms: i64,
}

/// A claim sent to the database and not answered yet, and when it was sent.
struct PendingClaim {
    sent: Instant,
    claim: Pin<Box<dyn Future<Output = Result<Option<Claimed>, StorageError>> + Send>>,
}

struct Leadership {
    store: Arc<dyn Storage>,
    id: String,
    lease: Duration,
    forget_after: Duration,
    scripts: RoleScripts,
    metrics: RoleMetrics,
    held: Option<Held>,
    /// The generation this replica last stepped down from.
    stepped_down_from: Option<i64>,
    /// A claim that did not land in time: it is still queued for the database,
    /// and its answer is awaited rather than lost, so that this replica learns
    /// of every term the database gave it.
    pending: Option<PendingClaim>,
    optimized_at: Option<Instant>,
}

impl Leadership {
    fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// How long before the lease could expire the leader steps down: time for
    /// its `--on-follower` script to start before another replica's
    /// `--on-leader` could.
    fn margin(&self) -> Duration {
        self.lease / 5
    }

    /// Returns the term it held when `stop` turned true, stepping down from it.
    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> Option<Term> {
        let generation = self
            .store
            .roll_call()
            .await
            .map_or(0, |roll_call| roll_call.lease.generation);
        self.scripts.changed(Role::Follower, generation);
        loop {
            self.step_down_if_due();
            let next = self.round().await;
            tokio::select! {
                () = sleep_until(next) => {}
                _ = stop.changed() => break,
            }
        }
        let term = self.held.as_ref().map(|held| held.term.clone());
        self.step_down("the store is stopping");
        term
    }

    /// A leader whose time is up steps down, whatever it was doing: a process
    /// paused past that moment finds out here on waking, before anything else.
    fn step_down_if_due(&mut self) {
        if self
            .held
            .as_ref()
            .is_some_and(|held| Instant::now() >= held.until)
        {
            self.step_down("the lease was not renewed in time");
        }
    }

    /// The leader's work, then one claim of the lease; returns when to come back.
    async fn round(&mut self) -> Instant {
        let started = Instant::now();
        if let Some(until) = self.held.as_ref().map(|held| held.until)
            && !self.work(until).await
        {
            self.step_down("leader-only work did not finish in time");
            return Instant::now();
        }
        let held = self.held.as_ref().map(|held| held.term.generation);
        let mut pending = self.pending.take().unwrap_or_else(|| {
            let (store, id, lease) = (self.store.clone(), self.id.clone(), self.lease);
            PendingClaim {
                sent: Instant::now(),
                claim: Box::pin(async move { store.claim(id, held, lease).await }),
            }
        });
        let sent = pending.sent;
        let claimed = match self.held.as_ref().map(|held| held.until) {
            Some(until) => match timeout_at(until, &mut pending.claim).await {
                Ok(claimed) => claimed,
                Err(_) => {
                    self.pending = Some(pending);
                    self.step_down("the renewal did not land in time");
                    return Instant::now();
                }
            },
            None => pending.claim.await,
        };
        match claimed {
            Ok(Some(claimed)) => self.claimed(claimed, sent, started).await,
            Ok(None) => {
                if held.is_some() {
                    self.step_down("another replica holds the lease");
                }
                self.when_to_try_again(started).await
            }
            Err(error) => {
                tracing::warn!(%error, "could not claim the lease; trying again");
                let next = started + self.renew_every();
                self.held.as_ref().map_or(next, |held| next.min(held.until))
            }
        }
    }

    /// The database gave this replica a term (a new one, or the one it holds,
    /// renewed) for a claim sent at `sent`.
    async fn claimed(&mut self, claimed: Claimed, sent: Instant, started: Instant) -> Instant {
        let generation = claimed.term.generation;
        if self.held.is_none() && self.stepped_down_from == Some(generation) {
            // A renewal that landed after this replica had stepped down: it
            // does not lead under a generation it left, and gives it back.
            tracing::info!(
                generation,
                "gave back a lease renewed too late to lead under"
            );
            if let Err(error) = self.store.release(claimed.term).await {
                tracing::warn!(%error, "could not give back the lease; it expires by itself");
            }
            return Instant::now();
        }
        // The lease runs from the moment the claim landed, by the database's
        // clock, which need not be this host's (PostgreSQL's replicas run on
        // several). The claim landed after it was sent: counted from the
        // sending, on this host's monotonic clock, this replica stops leading
        // no later than a margin before the lease can expire, whatever the
        // clocks say. `until_ms` (the database's clock) is for the log.
        let until_ms = claimed.renewed_at_ms + duration_ms(self.lease - self.margin());
        let until = sent + (self.lease - self.margin());
        if self.held.as_ref().map(|held| held.term.generation) != Some(generation) {
            self.step_down("the lease expired before it was renewed");
            self.became_leader(&claimed.term, claimed.acquired_at_ms);
        }
        self.held = Some(Held {
            term: claimed.term,
            until,
            until_ms,
        });
        (started + self.renew_every()).min(until)
    }

    /// A follower comes back when the lease it saw expires, or after a third
    /// of the duration, whichever comes first: so it takes an expired lease
    /// at once, and a released one soon. (`&mut`: the pending claim this
    /// holds is `Send` but not `Sync`, so a shared borrow could not be held
    /// across the read.)
    async fn when_to_try_again(&mut self, started: Instant) -> Instant {
        let next = started + self.renew_every();
        let Ok(RollCall { lease, now_ms, .. }) = self.store.roll_call().await else {
            return next;
        };
        let left = lease.expires_at_ms() - now_ms;
        if left <= 0 {
            return next;
        }
        // A few milliseconds late, so that the claim finds it expired.
        let expiry = Instant::now() + Duration::from_millis(left.unsigned_abs() + 5);
        next.min(expiry)
    }

    fn became_leader(&mut self, term: &Term, acquired_at_ms: i64) {
        tracing::info!(
            generation = term.generation,
            acquired_at_ms,
            "became the leader"
        );
        self.metrics.leader.set(1);
        self.metrics
            .role_changes
            .with_label_values(&[Role::Leader.as_str()])
            .inc();
        self.optimized_at = None;
        self.scripts.changed(Role::Leader, term.generation);
    }

    fn step_down(&mut self, reason: &str) {
        let Some(held) = self.held.take() else { return };
        tracing::warn!(
            generation = held.term.generation,
            leader_until_ms = held.until_ms,
            reason,
            "stopped being the leader"
        );
        self.stepped_down_from = Some(held.term.generation);
        self.metrics.leader.set(0);
        self.metrics
            .role_changes
            .with_label_values(&[Role::Follower.as_str()])
            .inc();
        self.scripts.changed(Role::Follower, held.term.generation);
    }

    /// The leader's round of work: forget replicas silent for too long, and
    /// now and then let SQLite refresh its statistics. Once per store rather
    /// than once per replica; the database refuses it once the term is over.
    /// False when it did not finish before `until`: it may still land, and
    /// then the database decides.
    async fn work(&mut self, until: Instant) -> bool {
        let Some(held) = &self.held else { return true };
        let optimize = self
            .optimized_at
            .is_none_or(|at| at.elapsed() >= OPTIMIZE_EVERY);
        let work = LeaderWork {
            term: held.term.clone(),
            // Judged by the database's clock, as the heartbeats were written.
            forget_after_ms: duration_ms(self.forget_after),
            optimize,
        };
        match timeout_at(until, self.store.leader_work(work)).await {
            Ok(Ok(Fenced::Done { forgotten })) => {
                if forgotten > 0 {
                    tracing::info!(forgotten, "forgot replicas silent for too long");
                }
                if optimize {
                    self.optimized_at = Some(Instant::now());
                }
            }
            // Counted and logged where the database refused it.
            Ok(Ok(Fenced::Refused)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "leader-only work failed; trying again"),
            Err(_) => return false,
        }
        true
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
