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
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::notify::{ConsoleNotifier, JsonlNotifier, Notifier};
use crate::alerts::{Detector, Runner, Settings};
use crate::commands::collect::{self as collect_cmd, CollectEvent};
use crate::commands::status::Status;
use crate::commands::{Context, Process};
use crate::config::Tokens;
use crate::ingest::pipeline::{self, LiveSources, Options};
use crate::ingest::{Committed, Events};
use crate::model::EntitySpec;
use crate::watch::fold::fold;

/// How many commits a slow subscriber may lag behind before it loses the oldest.
const EVENTS_CAPACITY: usize = 1024;

/// How often the live detector looks at the clock (an alert closes even when nobody posts).
const ALERT_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// The running application. Front-ends share it behind an `Arc`.
pub struct App {
    ctx: RwLock<Arc<Context>>,
    /// The names watched for everyone (the config's, or a `--watch` file's).
    base: Vec<EntitySpec>,
    /// Cancelled to stop every task.
    pub cancel: CancellationToken,
    tracker: TaskTracker,
    events: Events,
    status: Arc<Mutex<Status>>,
    live: Arc<Mutex<LiveSources>>,
    notifiers: Mutex<Vec<Arc<dyn Notifier + Sync>>>,
    rewatch: Arc<tokio::sync::Notify>,
    /// Wakes whoever delivers the outbox of bot messages (alerts to servers, monthly
    /// positions).
    pub posts_ready: Arc<tokio::sync::Notify>,
}

impl App {
    /// The app over `ctx`, no task started yet: subscribe to [`App::events`] first to miss
    /// nothing, then [`App::start`]. The names `ctx` watches are watched for everyone;
    /// servers add theirs (`/watch add`).
    pub fn new(ctx: Context) -> App {
        let (events, _) = tokio::sync::broadcast::channel(EVENTS_CAPACITY);
        let base = ctx.entities.to_vec();
        let app = App {
            ctx: RwLock::new(Arc::new(ctx)),
            base,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            events,
            status: Arc::default(),
            live: Arc::default(),
            notifiers: Mutex::new(Vec::new()),
            rewatch: Arc::default(),
            posts_ready: Arc::default(),
        };
        match app.watched_union().and_then(|u| app.ctx().with_entities(u)) {
            Ok(ctx) => *app.ctx.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ctx),
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "the servers' watched names are ignored"
            ),
        }
        app
    }

    /// What every command uses now (its watcher follows the servers' lists).
    pub fn ctx(&self) -> Arc<Context> {
        self.ctx.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The names watched for everyone.
    pub fn base_entities(&self) -> &[EntitySpec] {
        &self.base
    }

    /// Everything watched: the names for everyone, then each server's (see
    /// [`crate::commands::watch::union`]).
    pub fn watched_union(&self) -> anyhow::Result<Vec<EntitySpec>> {
        crate::commands::watch::union(&self.base, &self.ctx().store)
    }

    /// Adds where alert events go, before [`App::start`] (the console notifier and the
    /// `[alerts] jsonl` file are added by `start`).
    pub fn add_notifier(&self, n: Arc<dyn Notifier + Sync>) {
        self.notifiers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(n);
    }

    /// Says that a server's watch list, its alert settings or the corrections changed: the
    /// watcher is rebuilt (its model refitted), and the sources and the detector restart on
    /// it (what was read is stored first).
    pub fn rewatch(&self) {
        self.rewatch.notify_one();
    }

    /// Starts the long-running tasks on the current tokio runtime: the live sources and the
    /// alert detector (restarted together when the watched names change), and the monthly
    /// collection.
    pub fn start(self: &Arc<Self>, tokens: Tokens) {
        let app = self.clone();
        let t = tokens.clone();
        self.tracker.spawn(async move { app.supervise(t).await });
        self.spawn_monthly_collection(tokens);
    }

    /// Runs one generation of sources and detector at a time, until the app stops.
    async fn supervise(self: Arc<Self>, tokens: Tokens) {
        let mut first = true;
        loop {
            if !first {
                match self
                    .watched_union()
                    .and_then(|u| self.ctx().with_entities(u))
                {
                    Ok(ctx) => {
                        tracing::info!(names = ctx.entities.len(), "the watched names changed");
                        *self.ctx.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ctx);
                    }
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "the new watch list is refused")
                    }
                }
            }
            let generation = self.cancel.child_token();
            let tracker = TaskTracker::new();
            if self
                .ctx
                .read()
                .map(|c| c.config.alerts.enabled)
                .unwrap_or(false)
            {
                if let Err(e) = self.spawn_alerts(&tracker, generation.clone()) {
                    tracing::error!(error = format!("{e:#}"), "the alert detector did not start");
                    self.status
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .failures
                        .push(format!("alerts did not start: {e:#}"));
                }
            }
            self.spawn_ingest(&tracker, tokens.clone(), generation.clone(), first);
            tracker.close();
            first = false;
            let again = tokio::select! {
                _ = self.cancel.cancelled() => false,
                _ = self.rewatch.notified() => true,
            };
            generation.cancel();
            tracker.wait().await;
            if !again {
                return;
            }
        }
    }

    fn spawn_alerts(&self, tracker: &TaskTracker, cancel: CancellationToken) -> anyhow::Result<()> {
        let ctx = self.ctx();
        let config = &ctx.config;
        let mut settings = Settings::from_config(config)?;
        // A server asking for more sensitive alerts than the configuration lowers the
        // thresholds of the names it watches; each server then filters with its own.
        for (guild, s) in ctx.store.all_server_settings()? {
            let level = s.sensitivity.unwrap_or(config.alerts.sensitivity);
            if s.alert_channel.is_none() || level <= config.alerts.sensitivity {
                continue;
            }
            for e in ctx.store.watch_list(guild)? {
                let Some(name) = ctx.entities.iter().find(|u| fold(&u.name) == fold(&e.name))
                else {
                    continue;
                };
                let o = settings.overrides.entry(name.name.clone()).or_default();
                o.sensitivity = Some(o.sensitivity.map_or(level, |l| l.max(level)));
            }
        }
        let mut notifiers: Vec<Box<dyn Notifier>> = vec![Box::new(ConsoleNotifier {
            charts_dir: config.alerts.charts_dir.clone(),
            tz: settings.tz,
            lang: crate::model::Lang::Fr,
            out: Mutex::new(Box::new(std::io::stdout())),
        })];
        if let Some(path) = &config.alerts.jsonl {
            notifiers.push(Box::new(JsonlNotifier::append(path)?));
        }
        for n in self
            .notifiers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            notifiers.push(Box::new(n.clone()));
        }
        let detector = Detector::new(settings, ctx.store.clone())?;
        let mut runner = Runner::new(detector, notifiers);
        let rx = self.events();
        let store = ctx.store.clone();
        tracker.spawn(async move {
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
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        if let Ok(l) = self.live.lock() {
            s.sources = l.running.clone();
            s.failures.extend(l.failures.iter().cloned());
            s.states = l.states.clone();
            s.feeds = l.feeds.clone();
            s.x_bill = l.x_bill;
        }
        s
    }

    /// Spawns a task under the app's tracker (front-ends and alerts use it).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    fn spawn_ingest(
        &self,
        tracker: &TaskTracker,
        tokens: Tokens,
        cancel: CancellationToken,
        retention: bool,
    ) {
        let (ctx, events, status, live) = (
            self.ctx(),
            self.events.clone(),
            self.status.clone(),
            self.live.clone(),
        );
        tracker.spawn(async move {
            if retention {
                let retention = crate::ingest::retention(&ctx.config);
                let store = ctx.store.clone();
                match tokio::task::spawn_blocking(move || store.apply_retention(retention)).await {
                    Ok(Ok((posts, counters))) => tracing::info!(posts, counters, "retention applied"),
                    Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "retention failed"),
                    Err(e) => tracing::error!(error = %e, "retention task failed"),
                }
            }
            if let Ok(mut l) = live.lock() {
                *l = LiveSources::default();
            }
            let options = Options {
                live: Some(live),
                ..Options::default()
            };
            let shutdown = cancel.cancelled_owned();
            let report = pipeline::run(ctx.watching(), &tokens, options, Some(events), shutdown).await;
            let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
            match report {
                Ok(r) => {
                    if r.sources.is_empty() {
                        tracing::info!(
                            "no live source: set X_BEARER_TOKEN for X, or enable sources.bluesky.jetstream"
                        );
                    }
                    s.ended_sources = r.sources;
                    s.posts += r.stats.posts;
                    s.duplicates += r.stats.duplicates;
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "ingest stopped");
                    s.failures.push(format!("ingest stopped: {e:#}"));
                }
            }
        });
    }

    fn spawn_monthly_collection(&self, tokens: Tokens) {
        let (ctx, cancel, status, ready) = (
            self.ctx(),
            self.cancel.clone(),
            self.status.clone(),
            self.posts_ready.clone(),
        );
        self.tracker.spawn(async move {
            let platforms = match collect_cmd::platforms(&[], crate::model::Lang::En) {
                Ok(p) => p,
                Err(e) => return e.log("monthly collection"),
            };
            let positions_ctx = ctx.clone();
            let mut progress = |e: CollectEvent| {
                tracing::info!(event = ?e, "monthly collection");
                if let CollectEvent::Done { .. } = e {
                    // The subscriptions' monthly positions are owed from now on.
                    match crate::commands::subscriptions::queue_positions(&positions_ctx) {
                        Ok(n) if n > 0 => ready.notify_one(),
                        Ok(_) => {}
                        Err(e) => tracing::error!(
                            error = format!("{e:#}"),
                            "queueing the monthly positions"
                        ),
                    }
                }
                let line = match &e {
                    CollectEvent::Done {
                        platform,
                        month,
                        collected,
                        of,
                        ..
                    } => Some(format!("{} {month}: {collected}/{of}", platform.display())),
                    CollectEvent::Skipped { platform, reason } => {
                        Some(format!("{}: {reason}", platform.display()))
                    }
                    CollectEvent::Next(at) => {
                        Some(format!("→ {}", at.format("%Y-%m-%d %H:%M UTC")))
                    }
                    _ => None,
                };
                if let (Some(line), Ok(mut s)) = (line, status.lock()) {
                    s.last_collection = Some(line);
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
    pub async fn shutdown(&self) -> anyhow::Result<Status> {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        let store = self.ctx().store.clone();
        tokio::task::spawn_blocking(move || store.flush()).await??;
        let mut s = self.status();
        s.sources = s.ended_sources.clone();
        Ok(s)
    }
}

impl Process for App {
    fn ctx(&self) -> Arc<Context> {
        App::ctx(self)
    }

    fn base_entities(&self) -> &[EntitySpec] {
        &self.base
    }

    fn rewatch(&self) {
        App::rewatch(self)
    }

    fn status(&self) -> Status {
        App::status(self)
    }
}

/// Runs the app until `shutdown` resolves (ctrl-c or SIGTERM for `veille run`).
pub async fn run(
    ctx: Context,
    tokens: Tokens,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Status> {
    let app = Arc::new(App::new(ctx));
    app.start(tokens);
    tracing::info!("veille is running; ctrl-c or SIGTERM stops it");
    shutdown.await;
    tracing::info!("stopping: draining every task and flushing the store");
    app.shutdown().await
}
