//! The live pipeline: sources (X recent search, X stream, Bluesky Jetstream) → a bounded
//! channel → one consumer thread that classifies and writes. Cancellation stops the sources;
//! the consumer then drains what was sent, and the store is flushed.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::source::SourceBatch;
use super::{bluesky, x, Events, IngestStats, Ingestor};
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
}

/// The sources of a running pipeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSources {
    /// The sources started.
    pub running: Vec<String>,
    /// Sources that stopped for good, and why (no secret in it).
    pub failures: Vec<String>,
    /// Sources running but not connected now (backing off), and why.
    pub trouble: std::collections::BTreeMap<String, String>,
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
    let queries = x::build_queries(entities);
    let xcfg = &config.sources.x;

    match (&tokens.x, xcfg.search || xcfg.stream) {
        (None, true) => tracing::info!("X_BEARER_TOKEN is not set: the X sources are off"),
        (Some(_), true) if queries.is_empty() => tracing::info!("no watched name to search X for"),
        _ => {}
    }
    if let (Some(token), true) = (&tokens.x, xcfg.search && !queries.is_empty()) {
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
        );
        let (tx, cancel) = (tx.clone(), cancel.clone());
        report.sources.push("X recent search".into());
        tasks.spawn(async move {
            let r = if once {
                search.poll_once(&tx, &cancel).await
            } else {
                search.run(tx, cancel).await
            };
            (
                "X recent search".to_string(),
                r.map_err(anyhow::Error::from),
            )
        });
    }
    if let (Some(token), true, false) = (&tokens.x, xcfg.stream && !queries.is_empty(), once) {
        let stream = x::Stream::new(xcfg, token.clone(), queries.clone(), Retry::default());
        let (tx, cancel) = (tx.clone(), cancel.clone());
        report.sources.push("X filtered stream".into());
        tasks.spawn(async move {
            (
                "X filtered stream".to_string(),
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
    drop(tx);
    if let Some(live) = &live {
        if let Ok(mut l) = live.lock() {
            l.running = report.sources.clone();
        }
    }
    if tasks.is_empty() {
        return Ok(report);
    }

    // The consumer: one thread, the only writer of ingest data.
    let retention = super::retention(config);
    let consumer = std::thread::Builder::new()
        .name("veille-ingest".into())
        .spawn(move || -> anyhow::Result<IngestStats> {
            let mut ing = Ingestor::new(&watcher, &store);
            if let Some(events) = events {
                ing = ing.with_events(events);
            }
            let mut last_prune = Instant::now();
            while let Some(batch) = rx.blocking_recv() {
                let SourceBatch {
                    source,
                    posts,
                    bad,
                    notes,
                    cursor,
                } = batch;
                for b in bad {
                    ing.bad(&source, b.kind, &b.detail);
                }
                for n in notes {
                    ing.note(&source, n.kind, &n.detail);
                }
                for p in posts {
                    ing.process(p)?;
                }
                ing.commit(cursor.map(|c| (source, c)))?;
                if last_prune.elapsed() >= PRUNE_EVERY {
                    let (posts, counters) = store.apply_retention(retention)?;
                    tracing::info!(posts, counters, "retention applied");
                    last_prune = Instant::now();
                }
            }
            ing.finish()
        })?;

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
                    }
                    report.failures.push(failure);
                }
                Some(Err(e)) => report.failures.push(format!("a source task failed: {e}")),
            },
        }
    }
    report.stats = tokio::task::spawn_blocking(move || consumer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the ingest thread panicked"))??;
    Ok(report)
}
