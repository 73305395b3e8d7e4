//! The long-running process: one runtime that owns the command [`Context`] and every
//! long-running task (the live sources and ingest, the bad-buzz detector, the monthly
//! collection; next the Discord bot and the console) under one shutdown token and task
//! tracker.
//!
//! `veille run` starts it; ctrl-c or SIGTERM cancels the token, every task drains (the
//! ingest consumer stores what the sources had read), and the store is flushed. Each commit
//! of the ingest is published on [`App::events`], so that alerts follow the stream without
//! polling the store.
//!
//! The sources run for the whole life of the app. A change of the watched names
//! ([`App::rewatch`]) or a correction ([`App::refit`]) builds a new watcher off the runtime
//! and swaps it in: the ingest decides with it from its next batch, X's queries and stream
//! rules follow in place, and only the alert detector (whose thresholds follow the servers'
//! settings) restarts. Corrections in quick succession share one refit.

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::broadcast::Receiver;
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
    refit: Arc<tokio::sync::Notify>,
    /// Held while a new context is built and swapped in: a refit and a change of names do
    /// not overwrite each other.
    rebuilding: tokio::sync::Mutex<()>,
    watcher_tx: tokio::sync::watch::Sender<Arc<crate::watch::Watcher>>,
    queries_tx: tokio::sync::watch::Sender<Vec<String>>,
    /// Watchers built since the start (refits and changes of names).
    rebuilt: std::sync::atomic::AtomicU64,
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
        let (watcher_tx, _) = tokio::sync::watch::channel(ctx.watcher.clone());
        let (queries_tx, _) = tokio::sync::watch::channel(Vec::new());
        let app = App {
            refit: Arc::default(),
            rebuilding: tokio::sync::Mutex::new(()),
            rebuilt: std::sync::atomic::AtomicU64::new(0),
            watcher_tx,
            queries_tx,
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
            Ok(ctx) => app.swap(ctx),
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "the servers' watched names are ignored"
            ),
        }
        let ctx = app.ctx();
        app.watcher_tx.send_replace(ctx.watcher.clone());
        app.queries_tx
            .send_replace(crate::ingest::x::build_queries(&ctx.entities));
        app
    }

    /// Makes `ctx` the context every command and the running ingest use.
    fn swap(&self, ctx: Context) {
        let ctx = Arc::new(ctx);
        *self.ctx.write().unwrap_or_else(|p| p.into_inner()) = ctx.clone();
        self.watcher_tx.send_replace(ctx.watcher.clone());
        let queries = crate::ingest::x::build_queries(&ctx.entities);
        self.queries_tx.send_if_modified(|q| {
            let changed = *q != queries;
            *q = queries;
            changed
        });
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

    /// Says that a server's watch list or its alert settings changed: a new watcher is built
    /// for the new union of names and swapped in, X's queries follow, and the alert detector
    /// restarts on the new settings. No source restarts.
    pub fn rewatch(&self) {
        self.rewatch.notify_one();
    }

    /// Says that the team's corrections changed: the model is refitted off the runtime and
    /// swapped into the running watcher. Nothing restarts; presses in quick succession share
    /// one refit.
    pub fn refit(&self) {
        self.refit.notify_one();
    }

    /// How many watchers were built and swapped in since the start (refits and changes of
    /// names).
    pub fn rebuilt(&self) -> u64 {
        self.rebuilt.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Starts the long-running tasks on the current tokio runtime: the live sources (for the
    /// whole life of the app), the alert detector (restarted when the names or the servers'
    /// settings change), the refits, and the monthly collection.
    pub fn start(self: &Arc<Self>, tokens: Tokens) {
        // The detector listens before the first commit can be published: the commits of the
        // first moments are not lost to it while its task waits for its turn.
        let commits = self.events();
        self.spawn_ingest(tokens.clone());
        let app = self.clone();
        self.tracker
            .spawn(async move { app.supervise(commits).await });
        let app = self.clone();
        self.tracker.spawn(async move { app.refits().await });
        self.spawn_monthly_collection(tokens);
        self.tracker.spawn(give_back_memory(self.cancel.clone()));
    }

    /// Builds the context for the current names and corrections off the runtime, and swaps
    /// it in.
    async fn rebuild(&self, why: &'static str) {
        let _one = self.rebuilding.lock().await;
        let (ctx, union) = (self.ctx(), self.watched_union());
        let built =
            tokio::task::spawn_blocking(move || union.and_then(|u| ctx.with_entities(u))).await;
        match built {
            Ok(Ok(ctx)) => {
                tracing::info!(names = ctx.entities.len(), why, "a new watcher is in use");
                self.swap(ctx);
                self.rebuilt
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Ok(Err(e)) => {
                tracing::error!(error = format!("{e:#}"), why, "the new watcher is refused")
            }
            Err(e) => tracing::error!(error = %e, why, "building the new watcher failed"),
        }
    }

    /// Refits on each correction until the app stops.
    async fn refits(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = self.refit.notified() => self.rebuild("the corrections changed").await,
            }
        }
    }

    /// Runs the alert detector, restarting it (with a new watcher) when the names or the
    /// servers' settings change, until the app stops.
    async fn supervise(self: Arc<Self>, mut commits: Receiver<Arc<Committed>>) {
        let mut first = true;
        loop {
            if !first {
                self.rebuild("the watched names or the alert settings changed")
                    .await;
            }
            let generation = self.cancel.child_token();
            let tracker = TaskTracker::new();
            if self
                .ctx
                .read()
                .map(|c| c.config.alerts.enabled)
                .unwrap_or(false)
            {
                if let Err(e) = self.spawn_alerts(&tracker, generation.clone(), commits) {
                    tracing::error!(error = format!("{e:#}"), "the alert detector did not start");
                    self.status
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .failures
                        .push(format!("alerts did not start: {e:#}"));
                }
            }
            tracker.close();
            first = false;
            let again = tokio::select! {
                _ = self.cancel.cancelled() => false,
                _ = self.rewatch.notified() => true,
            };
            // The next detector listens from now on: what is committed while the old one
            // stops and the new watcher is built waits for it.
            commits = self.events();
            generation.cancel();
            tracker.wait().await;
            if !again {
                return;
            }
        }
    }

    fn spawn_alerts(
        &self,
        tracker: &TaskTracker,
        cancel: CancellationToken,
        rx: Receiver<Arc<Committed>>,
    ) -> anyhow::Result<()> {
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

    fn spawn_ingest(&self, tokens: Tokens) {
        let (ctx, events, status, live, cancel) = (
            self.ctx(),
            self.events.clone(),
            self.status.clone(),
            self.live.clone(),
            self.cancel.clone(),
        );
        let updates = pipeline::Updates {
            watcher: self.watcher_tx.subscribe(),
            queries: self.queries_tx.subscribe(),
        };
        self.tracker.spawn(async move {
            let retention = crate::ingest::retention(&ctx.config);
            let store = ctx.store.clone();
            match tokio::task::spawn_blocking(move || store.apply_retention(retention)).await {
                Ok(Ok((posts, counters))) => tracing::info!(posts, counters, "retention applied"),
                Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "retention failed"),
                Err(e) => tracing::error!(error = %e, "retention task failed"),
            }
            let options = Options {
                live: Some(live),
                updates: Some(updates),
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

    fn refit(&self) {
        App::refit(self)
    }

    fn wake_poster(&self) {
        self.posts_ready.notify_one();
    }

    fn status(&self) -> Status {
        App::status(self)
    }
}

/// Every minute, hands the memory freed since back to the system. glibc's allocator keeps
/// what a busy stream's many short allocations freed, in every thread's arena, so the
/// resident memory of a bot reading 2,000 posts a second would otherwise climb for hours
/// (`cargo bench --bench load`).
async fn give_back_memory(cancel: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = every.tick() => {}
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free memory of glibc's heaps to the system.
        unsafe {
            libc::malloc_trim(0);
        }
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
