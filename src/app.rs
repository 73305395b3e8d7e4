//! The long-running process: one runtime that owns the command [`Context`] and every
//! long-running task (the live sources and ingest, the bad-buzz detector, the monthly
//! collection; next the Discord bot and the console) under one shutdown token and task
//! tracker.
//!
//! `veille run` starts it; ctrl-c or SIGTERM cancels the token, every task drains (the
//! ingest consumer stores what the sources had read), and the store is flushed. Each commit
//! of the ingest is published on [`App::events`], so that alerts follow the stream without
//! polling the store.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::notify::{ConsoleNotifier, JsonlNotifier, Notifier};
use crate::alerts::{Detector, Runner, Settings};
use crate::commands::collect::{self as collect_cmd, CollectEvent};
use crate::commands::Context;
use crate::config::Tokens;
use crate::ingest::pipeline::{self, Options};
use crate::ingest::{Committed, Events};

/// How many commits a slow subscriber may lag behind before it loses the oldest.
const EVENTS_CAPACITY: usize = 1024;

/// How often the live detector looks at the clock (an alert closes even when nobody posts).
const ALERT_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// What the running tasks say of themselves, for `/status` and the end-of-run report.
#[derive(Debug, Default, Clone)]
pub struct Status {
    /// The live sources that ran.
    pub sources: Vec<String>,
    /// Sources or tasks that stopped for good, and why (no secret in it).
    pub failures: Vec<String>,
    /// The last collection event.
    pub last_collection: Option<String>,
    /// Posts the ingest counted since the start, and of those already stored.
    pub posts: u64,
    /// Duplicates among them.
    pub duplicates: u64,
}

/// The running application.
pub struct App {
    /// What every command uses.
    pub ctx: Arc<Context>,
    /// Cancelled to stop every task.
    pub cancel: CancellationToken,
    tracker: TaskTracker,
    events: Events,
    status: Arc<Mutex<Status>>,
    notifiers: Mutex<Vec<Box<dyn Notifier>>>,
}

impl App {
    /// The app over `ctx`, no task started yet: subscribe to [`App::events`] first to miss
    /// nothing, then [`App::start`].
    pub fn new(ctx: Context) -> App {
        let (events, _) = tokio::sync::broadcast::channel(EVENTS_CAPACITY);
        App {
            ctx: Arc::new(ctx),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            events,
            status: Arc::default(),
            notifiers: Mutex::new(Vec::new()),
        }
    }

    /// Adds where alert events go, before [`App::start`] (the console notifier and the
    /// `[alerts] jsonl` file are added by `start`).
    pub fn add_notifier(&self, n: Box<dyn Notifier>) {
        self.notifiers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(n);
    }

    /// Starts the long-running tasks on the current tokio runtime: the alert detector
    /// first (it subscribes before anything is published), then ingest and the monthly
    /// collection.
    pub fn start(&self, tokens: Tokens) {
        if self.ctx.config.alerts.enabled {
            if let Err(e) = self.spawn_alerts() {
                tracing::error!(error = format!("{e:#}"), "the alert detector did not start");
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .failures
                    .push(format!("alerts did not start: {e:#}"));
            }
        }
        self.spawn_ingest(tokens.clone());
        self.spawn_monthly_collection(tokens);
    }

    fn spawn_alerts(&self) -> anyhow::Result<()> {
        let config = &self.ctx.config;
        let settings = Settings::from_config(config)?;
        let mut notifiers: Vec<Box<dyn Notifier>> = vec![Box::new(ConsoleNotifier {
            charts_dir: config.alerts.charts_dir.clone(),
            tz: settings.tz,
            lang: crate::model::Lang::Fr,
            out: Mutex::new(Box::new(std::io::stdout())),
        })];
        if let Some(path) = &config.alerts.jsonl {
            notifiers.push(Box::new(JsonlNotifier::append(path)?));
        }
        notifiers.append(&mut self.notifiers.lock().unwrap_or_else(|p| p.into_inner()));
        let detector = Detector::new(settings, self.ctx.store.clone())?;
        let mut runner = Runner::new(detector, notifiers);
        let rx = self.events();
        let (store, cancel) = (self.ctx.store.clone(), self.cancel.clone());
        self.tracker.spawn(async move {
            let s = store.clone();
            let pending = tokio::task::spawn_blocking(move || {
                if let Err(e) = runner.deliver_pending(&s) {
                    tracing::error!(error = format!("{e:#}"), "reading the alert outbox");
                }
                runner
            })
            .await;
            if let Ok(runner) = pending {
                runner.run_live(store, rx, cancel, ALERT_TICK).await;
            }
        });
        Ok(())
    }

    /// Subscribes to what each ingest commit added (per entity and minute), published once
    /// written to the store.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<Arc<Committed>> {
        self.events.subscribe()
    }

    /// The tasks' status now.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Spawns a task under the app's tracker (front-ends and alerts use it).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    fn spawn_ingest(&self, tokens: Tokens) {
        let (ctx, cancel, events, status) = (
            self.ctx.clone(),
            self.cancel.clone(),
            self.events.clone(),
            self.status.clone(),
        );
        self.tracker.spawn(async move {
            let retention = ctx.config.retention();
            let store = ctx.store.clone();
            match tokio::task::spawn_blocking(move || store.apply_retention(retention)).await {
                Ok(Ok((posts, counters))) => tracing::info!(posts, counters, "retention applied"),
                Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "retention failed"),
                Err(e) => tracing::error!(error = %e, "retention task failed"),
            }
            let shutdown = cancel.clone().cancelled_owned();
            let report =
                pipeline::run(&ctx, &tokens, Options::default(), Some(events), shutdown).await;
            let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
            match report {
                Ok(r) => {
                    if r.sources.is_empty() {
                        tracing::info!(
                            "no live source: set X_BEARER_TOKEN for X, or enable sources.bluesky.jetstream"
                        );
                    }
                    s.sources = r.sources;
                    s.failures.extend(r.failures);
                    s.posts = r.stats.posts;
                    s.duplicates = r.stats.duplicates;
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "ingest stopped");
                    s.failures.push(format!("ingest stopped: {e:#}"));
                }
            }
        });
    }

    fn spawn_monthly_collection(&self, tokens: Tokens) {
        let (ctx, cancel, status) = (self.ctx.clone(), self.cancel.clone(), self.status.clone());
        self.tracker.spawn(async move {
            let platforms = match collect_cmd::platforms(&[], crate::model::Lang::En) {
                Ok(p) => p,
                Err(e) => return e.log("monthly collection"),
            };
            let mut progress = |e: CollectEvent| {
                tracing::info!(event = ?e, "monthly collection");
                if let Ok(mut s) = status.lock() {
                    s.last_collection = Some(format!("{e:?}"));
                }
            };
            if let Err(e) =
                collect_cmd::monthly(&ctx, &tokens, &platforms, cancel, &mut progress).await
            {
                e.log("monthly collection");
            }
        });
    }

    /// Stops every task, waits for them to drain, and flushes the store.
    pub async fn shutdown(self) -> anyhow::Result<Status> {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        let store = self.ctx.store.clone();
        tokio::task::spawn_blocking(move || store.flush()).await??;
        Ok(self.status())
    }
}

/// Runs the app until `shutdown` resolves (ctrl-c or SIGTERM for `veille run`).
pub async fn run(
    ctx: Context,
    tokens: Tokens,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Status> {
    let app = App::new(ctx);
    app.start(tokens);
    tracing::info!("veille is running; ctrl-c or SIGTERM stops it");
    shutdown.await;
    tracing::info!("stopping: draining every task and flushing the store");
    app.shutdown().await
}
