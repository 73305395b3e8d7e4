//! Bad-buzz alerts: watch each name's critical posts against its own baseline, open an
//! alert once when they spike, escalate when they double again, close when calm returns,
//! and hand each event to the notifiers.
//!
//! - [`baseline`] fits what to expect of a name from its hourly history;
//! - [`stats`] gives the negative-binomial tail the detector tests counts with;
//! - [`detector`] follows the store's slot counts as ingest commits them and runs the
//!   lifecycle; its state and undelivered events live in the store;
//! - [`chart`] draws the last 48 hours as a PNG; [`notify`] delivers events (console,
//!   JSON Lines; the Discord bot adds its own); [`simulate`] makes streams with known bursts
//!   to measure all of it.

pub mod baseline;
pub mod chart;
pub mod detector;
pub mod notify;
pub mod simulate;
pub mod stats;

use chrono::{DateTime, Utc};

use crate::ingest;
use serde::{Deserialize, Serialize};

pub use detector::{Detector, Settings};

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Criticism spiked: the alert opens.
    Open,
    /// It doubled again while open.
    Escalate,
    /// Back near the baseline: « retour au calme ».
    Close,
    /// Criticism spiked again soon after a close: the same alert goes on (« reprise »).
    Resume,
}

impl EventKind {
    /// `open`, `escalate` or `close`, as in the JSON.
    pub fn id(self) -> &'static str {
        match self {
            EventKind::Open => "open",
            EventKind::Escalate => "escalate",
            EventKind::Close => "close",
            EventKind::Resume => "resume",
        }
    }
}

/// One alert event, as `replay --alerts` prints it and the notifiers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The watched name.
    pub entity: String,
    /// Open, escalate or close.
    pub event: EventKind,
    /// When it was decided (the stream's time: the posts' own timestamps in a replay).
    pub at: DateTime<Utc>,
    /// The window the figures count.
    pub window_start: DateTime<Utc>,
    /// Its end.
    pub window_end: DateTime<Utc>,
    /// Mentions in the window.
    pub mentions: u64,
    /// Critical posts in the window.
    pub critical: u64,
    /// The critical posts the baseline expected in the window.
    pub baseline_critical: f64,
    /// The mentions it expected.
    pub baseline_mentions: f64,
    /// The critical share in the window.
    pub share: f64,
    /// The name's usual critical share.
    pub baseline_share: f64,
    /// `critical / baseline_critical`.
    pub ratio: f64,
    /// The chance of as many critical posts or more under the baseline.
    pub p_value: f64,
    /// The change-point statistic that opened or resumed the alert (its log-likelihood
    /// ratio), compared with each sensitivity's threshold; none for other events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The cues most found in the window's critical posts.
    pub top_cues: Vec<String>,
    /// The most visible critical posts of the window (by engagement).
    pub posts: Vec<AlertPost>,
    /// The alert this event belongs to (its name and opening time).
    pub alert_id: String,
    /// When the alert opened.
    pub opened_at: DateTime<Utc>,
}

/// A critical post quoted in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPost {
    /// Its address.
    pub url: Option<String>,
    /// Its author.
    pub author: Option<String>,
    /// Its text.
    pub text: String,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// Likes, replies, reposts and quotes.
    pub engagement: u64,
    /// The cues that made it critical.
    pub cues: Vec<String>,
}

/// One bucket of a name's recent series, for charts and `buzz`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BucketPoint {
    /// The bucket's start, seconds since the epoch.
    pub start: i64,
    /// Mentions.
    pub mentions: u64,
    /// Critical posts.
    pub critical: u64,
    /// Expected mentions.
    pub expected_mentions: f64,
    /// Expected critical posts.
    pub expected_critical: f64,
    /// The baseline band of critical posts: 5th and 95th percentiles.
    pub band: (u64, u64),
}

/// An event ready to leave: what the notifiers receive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The event.
    pub event: AlertEvent,
    /// The name's last 48 hours, for the chart.
    pub series: Vec<BucketPoint>,
    /// The alert window, for the chart (seconds since the epoch).
    pub alert_window: (i64, i64),
    /// The bucket length, seconds.
    pub bucket_secs: i64,
}

/// The detector and its notifiers: what `veille run` and `replay --alerts` drive.
pub struct Runner {
    detector: Detector,
    notifiers: Vec<Box<dyn notify::Notifier>>,
    /// From a post entering the ingest to its alert leaving the notifiers, per event.
    pub latencies: Vec<std::time::Duration>,
    /// Every event delivered, in order.
    pub delivered: Vec<AlertEvent>,
    /// Whether `latencies` and `delivered` are kept (a replay's report); never in the
    /// long-running process, where they would only grow.
    record: bool,
}

impl Runner {
    /// The detector with its notifiers.
    pub fn new(detector: Detector, notifiers: Vec<Box<dyn notify::Notifier>>) -> Runner {
        Runner {
            detector,
            notifiers,
            latencies: Vec::new(),
            delivered: Vec::new(),
            record: false,
        }
    }

    /// Keeps every delivered event and its latency, for a replay's report.
    pub fn recording(mut self) -> Runner {
        self.record = true;
        self
    }

    /// The detector.
    pub fn detector(&mut self) -> &mut Detector {
        &mut self.detector
    }

    /// Delivers the events a previous run stored but did not deliver.
    pub fn deliver_pending(&mut self, store: &crate::store::Store) -> anyhow::Result<()> {
        let pending = store.pending_alert_events::<Outgoing>()?;
        if !pending.is_empty() {
            tracing::info!(
                events = pending.len(),
                "delivering alert events left by the last run"
            );
        }
        self.deliver(store, pending, None);
        Ok(())
    }

    /// Takes one commit in and delivers what it caused.
    pub fn on_commit(&mut self, store: &crate::store::Store, c: &ingest::Committed) {
        match self.detector.on_commit(c) {
            Ok(events) => self.deliver(store, events, c.read_at),
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "the alert detector failed on a commit"
            ),
        }
    }

    /// Moves the clock (live) and delivers what it caused.
    pub fn tick(&mut self, store: &crate::store::Store, now: i64) {
        match self.detector.tick(now) {
            Ok(events) => self.deliver(store, events, None),
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "the alert detector failed on a tick"
            ),
        }
    }

    fn deliver(
        &mut self,
        store: &crate::store::Store,
        events: Vec<(u64, Outgoing)>,
        read_at: Option<std::time::Instant>,
    ) {
        for (id, out) in events {
            let mut ok = true;
            for n in &self.notifiers {
                if let Err(e) = n.notify(&out) {
                    ok = false;
                    tracing::error!(
                        entity = out.event.entity,
                        error = format!("{e:#}"),
                        "an alert could not be delivered; it stays in the outbox for the next start"
                    );
                }
            }
            if ok {
                if let Err(e) = store.ack_alert_event(id) {
                    tracing::error!(error = format!("{e:#}"), "acknowledging an alert event");
                }
            }
            if self.record {
                if let Some(t) = read_at {
                    self.latencies.push(t.elapsed());
                }
                self.delivered.push(out.event);
            }
        }
    }

    /// Follows `rx` until every sender is gone (a replay): blocking.
    pub fn run_blocking(
        mut self,
        store: &crate::store::Store,
        mut rx: tokio::sync::broadcast::Receiver<std::sync::Arc<ingest::Committed>>,
    ) -> Runner {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match rx.blocking_recv() {
                Ok(c) => self.on_commit(store, &c),
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "the alert detector fell behind; reading the store again"
                    );
                    if let Err(e) = self.detector.resync() {
                        tracing::error!(error = format!("{e:#}"), "resync failed");
                    }
                }
                Err(RecvError::Closed) => return self,
            }
        }
    }

    /// Follows `rx` on the live stream until `cancel`, ticking the clock every `tick`:
    /// the detector runs off the async workers.
    pub async fn run_live(
        mut self,
        store: crate::store::Store,
        mut rx: tokio::sync::broadcast::Receiver<std::sync::Arc<ingest::Committed>>,
        cancel: tokio_util::sync::CancellationToken,
        tick: std::time::Duration,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        enum Job {
            Commit(std::sync::Arc<ingest::Committed>),
            Tick,
            Resync,
        }
        loop {
            let job = tokio::select! {
                _ = cancel.cancelled() => break,
                m = rx.recv() => match m {
                    Ok(c) => Job::Commit(c),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "the alert detector fell behind; reading the store again"
                        );
                        Job::Resync
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = interval.tick() => Job::Tick,
            };
            let s = store.clone();
            let joined = tokio::task::spawn_blocking(move || {
                match job {
                    Job::Commit(c) => self.on_commit(&s, &c),
                    Job::Tick => self.tick(&s, chrono::Utc::now().timestamp()),
                    Job::Resync => {
                        if let Err(e) = self.detector.resync() {
                            tracing::error!(error = format!("{e:#}"), "resync failed");
                        }
                    }
                }
                self
            })
            .await;
            match joined {
                Ok(r) => self = r,
                Err(e) => {
                    tracing::error!(error = %e, "the alert detector stopped");
                    return;
                }
            }
        }
        // Commits published before the stop are still taken in.
        while let Ok(c) = rx.try_recv() {
            self.on_commit(&store, &c);
        }
    }
}
