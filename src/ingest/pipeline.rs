//! The live pipeline: sources (X recent search, X stream, Bluesky Jetstream) → a bounded
//! channel → one consumer thread that classifies and writes. Cancellation stops the sources;
//! the consumer then drains what was sent, and the store is flushed.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::feeds::{self, FeedUrl};
use super::source::SourceBatch;
use super::{bluesky, instagram, mastodon, x, Events, IngestStats, Ingestor};
use crate::config::{Config, Tokens};
use crate::http::Retry;

/// What the pipeline reads with and writes to: the configuration (its sources), the watched
/// names (the sources' queries), the store and the watcher.
#[derive(Clone)]
pub struct Watching<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The watched names.
    pub entities: &'a [crate::model::EntitySpec],
    /// The store the consumer writes.
    pub store: crate::store::Store,
    /// The matcher and classifier.
    pub watcher: std::sync::Arc<crate::watch::Watcher>,
}

/// How `veille ingest` runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Poll each polling source once and stop (streams are not started).
    pub once: bool,
    /// Where the sources say, while they run, which started and which stopped and why
    /// (the long-running process shows it in `/status`).
    pub live: Option<std::sync::Arc<std::sync::Mutex<LiveSources>>>,
    /// What changes while it runs (the long-running process): the watcher (a correction,
    /// new names) and X's queries; the sources go on.
    pub updates: Option<Updates>,
}

/// The watcher and X's queries as they change, for a pipeline that runs on.
#[derive(Debug, Clone)]
pub struct Updates {
    /// The watcher to decide with from the next batch on.
    pub watcher: tokio::sync::watch::Receiver<std::sync::Arc<crate::watch::Watcher>>,
    /// X's queries (recent search reads them at its next poll; the stream's rules follow them
    /// on the open connection).
    pub queries: tokio::sync::watch::Receiver<Vec<String>>,
}

/// The sources of a running pipeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSources {
    /// The sources started.
    pub running: Vec<String>,
    /// Sources that stopped for good, and why (no secret in it).
    pub failures: Vec<String>,
    /// How each source stands, by name.
    pub states: std::collections::BTreeMap<String, SourceState>,
    /// Each feed polled, by the URL it was added under, and how it stands.
    pub feeds: std::collections::BTreeMap<String, super::feeds::FeedState>,
    /// X's reads today and their cost, when X runs.
    pub x_bill: Option<x::Bill>,
}

/// How a live source stands, for `/status`.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceState {
    /// Started, not connected (or read) yet.
    Connecting,
    /// Connected, or its last poll read.
    Running,
    /// Not connected, or its polls fail: retried with backoff.
    Failing {
        /// Why (no secret in it).
        why: String,
        /// Since when.
        since: chrono::DateTime<chrono::Utc>,
    },
    /// Paused on purpose (X's daily budget spent).
    Paused {
        /// Why.
        why: String,
    },
    /// Stopped for good.
    Stopped {
        /// Why.
        why: String,
    },
}

impl SourceState {
    /// Running, or failing for `why` since now (a streak keeps its start, see
    /// [`LiveSources::set`]).
    pub fn failing_if(why: Option<String>) -> SourceState {
        why.map_or(SourceState::Running, SourceState::failing)
    }

    /// Failing for `why` since now.
    pub fn failing(why: String) -> SourceState {
        SourceState::Failing {
            why,
            since: chrono::Utc::now(),
        }
    }
}

impl LiveSources {
    /// Says how `source` stands; a failure keeps the time its streak began.
    pub fn set(&mut self, source: &str, state: SourceState) {
        let state = match (self.states.get(source), state) {
            (Some(SourceState::Failing { since, .. }), SourceState::Failing { why, .. }) => {
                SourceState::Failing { why, since: *since }
            }
            (_, s) => s,
        };
        self.states.insert(source.to_string(), state);
    }
}

/// Says how `source` stands in `live`, when there is one.
pub fn set_state(live: Option<&std::sync::Mutex<LiveSources>>, source: &str, state: SourceState) {
    if let Some(Ok(mut l)) = live.map(|l| l.lock()) {
        l.set(source, state);
    }
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Report {
    /// What the consumer counted.
    pub stats: IngestStats,
    /// Sources that stopped for good, and why.
    pub failures: Vec<String>,
    /// Sources that ran.
    pub sources: Vec<String>,
    /// How each feed stood at the end.
    pub feeds: BTreeMap<String, feeds::FeedState>,
    /// Posts read from each source (by cursor key: one per X query, one per feed).
    pub read: BTreeMap<String, Read>,
    /// X's reads today and their cost, when X ran.
    pub x_bill: Option<x::Bill>,
}

/// Posts a source handed over, and of those, new ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Read {
    /// Posts read.
    pub posts: u64,
    /// Not stored before.
    pub new: u64,
}

/// How often retention runs during a long ingest.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the configured sources until `shutdown` (or, with `once`, until each polled once),
/// publishing each commit on `events` when given. With no source to run (no token, Jetstream
/// off), returns at once with no source in the report.
pub async fn run(
    watching: Watching<'_>,
    tokens: &Tokens,
    options: Options,
    events: Option<Events>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Report> {
    let once = options.once;
    let live = options.live.clone();
    let Watching {
        config,
        entities,
        store,
        watcher,
    } = watching;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<SourceBatch>(64);
    let cancel = CancellationToken::new();
    let mut tasks: JoinSet<(String, anyhow::Result<()>)> = JoinSet::new();
    let mut report = Report::default();
    let mut report_live: Option<std::sync::Arc<std::sync::Mutex<LiveSources>>> = None;
    let queries = x::build_queries(entities);
    let xcfg = &config.sources.x;

    match (&tokens.x, xcfg.search || xcfg.stream) {
        (None, true) => tracing::info!("X_BEARER_TOKEN is not set: the X sources are off"),
        (Some(_), true) if queries.is_empty() => tracing::info!("no watched name to search X for"),
        _ => {}
    }
    // X bills every post read: one budget a day for search and stream, counted from what the
    // store says was read today.
    let x_live = live.clone().unwrap_or_default();
    let budget = std::sync::Arc::new(x::Budget::new(
        xcfg,
        store.reads(
            x::SERVICE,
            chrono::Utc::now().timestamp().div_euclid(86_400),
        )?,
        Some(x_live.clone()),
    ));
    let queries_rx = options.updates.as_ref().map(|u| u.queries.clone());
    let live_x = queries_rx.is_some() && !once;
    if let (Some(token), true) = (&tokens.x, xcfg.search && (!queries.is_empty() || live_x)) {
        let mut cursors = HashMap::new();
        for q in &queries {
            if let Some(c) = store.cursor(&x::query_key(q))? {
                cursors.insert(x::query_key(q), c);
            }
        }
        let mut search = x::Search::new(
            xcfg,
            token.clone(),
            queries.clone(),
            &cursors,
            Retry::default(),
            budget.clone(),
        )
        .with_live(x_live.clone())
        .with_updates(queries_rx.clone());
        let (tx, cancel) = (tx.clone(), cancel.clone());
        report.sources.push(x::SEARCH_NAME.into());
        tasks.spawn(async move {
            let r = if once {
                search.poll_once(&tx, &cancel).await
            } else {
                search.run(tx, cancel).await
            };
            (x::SEARCH_NAME.to_string(), r.map_err(anyhow::Error::from))
        });
    }
    if let (Some(token), true, false) = (
        &tokens.x,
        xcfg.stream && (!queries.is_empty() || live_x),
        once,
    ) {
        let stream = x::Stream::new(
            xcfg,
            token.clone(),
            queries.clone(),
            Retry::default(),
            budget.clone(),
        )
        .with_live(x_live.clone())
        .with_updates(queries_rx.clone());
        let (tx, cancel) = (tx.clone(), cancel.clone());
        report.sources.push(x::STREAM_NAME.into());
        tasks.spawn(async move {
            (
                x::STREAM_NAME.to_string(),
                stream.run(tx, cancel).await.map_err(anyhow::Error::from),
            )
        });
    }
    if config.sources.bluesky.jetstream && !once {
        let cursor = store.cursor(bluesky::SOURCE)?.and_then(|c| c.parse().ok());
        let (cfg, tx, cancel) = (config.sources.bluesky.clone(), tx.clone(), cancel.clone());
        report.sources.push(bluesky::SOURCE_NAME.into());
        let live = live.clone();
        tasks.spawn(async move {
            (
                bluesky::SOURCE_NAME.to_string(),
                bluesky::run(cfg, cursor, tx, cancel, live).await,
            )
        });
    }
    let ig = &config.sources.instagram;
    if let (Some(entity), Some(token), Some(user_id)) =
        (&ig.comments_entity, &tokens.instagram, &ig.user_id)
    {
        let fold = crate::watch::fold::fold;
        match entities.iter().find(|e| fold(&e.name) == fold(entity)) {
            None => {
                let why = format!(
                    "{}: comments_entity {entity:?} is not a watched name",
                    instagram::SOURCE_NAME
                );
                tracing::error!("{why}");
                report.failures.push(why);
            }
            Some(e) => {
                let comments = instagram::Comments::new(
                    ig,
                    token.clone(),
                    user_id.clone(),
                    e.name.clone(),
                    Retry::default(),
                )
                .with_live(x_live.clone());
                let (tx, cancel) = (tx.clone(), cancel.clone());
                report.sources.push(instagram::SOURCE_NAME.into());
                tasks.spawn(async move {
                    let r = if once {
                        comments
                            .poll_once(&tx, &cancel)
                            .await
                            .map(|_| ())
                            .map_err(anyhow::Error::from)
                    } else {
                        comments.run(tx, cancel).await
                    };
                    (instagram::SOURCE_NAME.to_string(), r)
                });
            }
        }
    } else if ig.comments_entity.is_some() {
        tracing::info!(
            "the Instagram comments need INSTAGRAM_ACCESS_TOKEN and sources.instagram.user_id"
        );
    }
    for instance in &config.sources.mastodon.instances {
        let name = mastodon::source_name(instance);
        let cursor = store.cursor(&mastodon::source_key(instance))?;
        let (cfg, tx, cancel, live) = (
            config.sources.mastodon.clone(),
            tx.clone(),
            cancel.clone(),
            live.clone(),
        );
        let (instance, token) = (instance.clone(), tokens.mastodon.clone());
        if once {
            continue;
        }
        report.sources.push(name.clone());
        tasks.spawn(async move {
            (
                name,
                mastodon::run(cfg, instance, token, cursor, tx, cancel, live).await,
            )
        });
    }
    // Feeds: the configuration's, and those the servers add (read again as they change). The
    // long-running process polls them even while there are none yet.
    let feeds_cfg = config.sources.feeds.clone();
    let feed_store = store.clone();
    let list: std::sync::Arc<dyn Fn() -> Vec<FeedUrl> + Send + Sync> =
        std::sync::Arc::new(move || feed_list(&feeds_cfg, &feed_store));
    if (live.is_some() && !once) || !list().is_empty() {
        let feed_live = live.clone().unwrap_or_default();
        let (cfg, store, tx, cancel) = (
            config.sources.feeds.clone(),
            store.clone(),
            tx.clone(),
            cancel.clone(),
        );
        report.sources.push(feeds::SOURCE_NAME.into());
        let list = list.clone();
        report_live = Some(feed_live.clone());
        tasks.spawn(async move {
            (
                feeds::SOURCE_NAME.to_string(),
                feeds::run(cfg, store, list, tx, cancel, feed_live, once).await,
            )
        });
    }
    drop(tx);
    if let Some(live) = &live {
        if let Ok(mut l) = live.lock() {
            l.running = report.sources.clone();
            for s in &report.sources {
                if !l.states.contains_key(s) {
                    l.states.insert(s.clone(), SourceState::Connecting);
                }
            }
        }
    }
    if tasks.is_empty() {
        return Ok(report);
    }

    // The consumer: one thread, the only writer of ingest data.
    let watcher_rx = options.updates.as_ref().map(|u| u.watcher.clone());
    let retention = super::retention(config);
    let consumer = std::thread::Builder::new()
        .name("veille-ingest".into())
        .spawn(
            move || -> anyhow::Result<(IngestStats, BTreeMap<String, Read>)> {
                let mut read: BTreeMap<String, Read> = BTreeMap::new();
                let mut ing = Ingestor::new(watcher.clone(), &store);
                let mut watchers = watcher_rx;
                if let Some(events) = events {
                    ing = ing.with_events(events);
                }
                let mut last_prune = Instant::now();
                while let Some(batch) = rx.blocking_recv() {
                    // A refitted model or new names: decided with from this batch on.
                    if let Some(w) = watchers
                        .as_mut()
                        .filter(|w| w.has_changed().unwrap_or(false))
                    {
                        ing.set_watcher(w.borrow_and_update().clone());
                    }
                    let SourceBatch {
                        source,
                        posts,
                        bad,
                        notes,
                        cursor,
                        removed,
                        billed,
                    } = batch;
                    if billed > 0 {
                        ing.billed(x::SERVICE, billed);
                    }
                    for b in bad {
                        ing.bad(&source, b.kind, &b.detail);
                    }
                    for n in notes {
                        ing.note(&source, n.kind, &n.detail);
                    }
                    let before = (ing.stats.posts, ing.stats.duplicates);
                    for p in posts {
                        ing.process(p)?;
                    }
                    let r = read.entry(source.clone()).or_default();
                    r.posts += ing.stats.posts - before.0;
                    r.new += (ing.stats.posts - before.0) - (ing.stats.duplicates - before.1);
                    ing.commit(cursor.map(|c| (source, c)))?;
                    for (key, at) in removed {
                        ing.redact(&key, at)?;
                    }
                    if last_prune.elapsed() >= PRUNE_EVERY {
                        let (posts, counters) = store.apply_retention(retention)?;
                        tracing::info!(posts, counters, "retention applied");
                        last_prune = Instant::now();
                    }
                }
                Ok((ing.finish()?, read))
            },
        )?;

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown, if !cancel.is_cancelled() => {
                tracing::info!("stopping the sources");
                cancel.cancel();
            }
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok((name, Ok(())))) => tracing::info!(source = name, "source ended"),
                Some(Ok((name, Err(e)))) => {
                    tracing::error!(source = name, error = format!("{e:#}"), "source stopped");
                    let failure = format!("{name} stopped: {e:#}");
                    if let Some(Ok(mut l)) = live.as_ref().map(|l| l.lock()) {
                        l.running.retain(|s| *s != name);
                        l.failures.push(failure.clone());
                        l.set(&name, SourceState::Stopped { why: format!("{e:#}") });
                    }
                    report.failures.push(failure);
                }
                Some(Err(e)) => report.failures.push(format!("a source task failed: {e}")),
            },
        }
    }
    (report.stats, report.read) = tokio::task::spawn_blocking(move || consumer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the ingest thread panicked"))??;
    if let Some(Ok(l)) = report_live.as_ref().map(|l| l.lock()) {
        report.feeds = l.feeds.clone();
    }
    if tokens.x.is_some() {
        report.x_bill = Some(budget.bill());
    }
    Ok(report)
}

/// Every feed to poll: the configuration's (not filtered by address), then the servers'
/// (public addresses only), each once.
pub fn feed_list(cfg: &crate::config::FeedsConfig, store: &crate::store::Store) -> Vec<FeedUrl> {
    let mut out: Vec<FeedUrl> = cfg
        .urls
        .iter()
        .map(|u| FeedUrl {
            url: u.trim().to_string(),
            public_only: false,
        })
        .collect();
    match store.feeds(None) {
        Ok(subs) => {
            for s in subs {
                if !out.iter().any(|f| f.url == s.url) {
                    out.push(FeedUrl {
                        url: s.url,
                        public_only: true,
                    });
                }
            }
        }
        Err(e) => tracing::error!(error = format!("{e:#}"), "reading the servers' feeds"),
    }
    out
}
