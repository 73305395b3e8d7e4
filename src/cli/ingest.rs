//! `veille replay` and `veille stats`: files of posts into the store, and what the store counted.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{NaiveDate, TimeZone, Utc};

use super::{build_watcher, WatchArgs};
use crate::config::Config;
use crate::ingest::file::{Cursor, PostFile};
use crate::ingest::{IngestStats, Ingestor};
use crate::store::{Counts, Store, ALL_POSTS};

/// Arguments of `veille replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Files of posts: JSON Lines (.jsonl, a post or a saved X API page a line), CSV (.csv)
    /// or a saved X API page (.json).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Read each file from the top instead of where the last replay of it stopped (posts
    /// already stored are still counted once).
    #[arg(long)]
    pub from_start: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Posts a batch: one atomic store write each.
const BATCH: usize = 4096;

/// Runs `veille replay`.
pub fn replay(config: &Config, args: ReplayArgs) -> anyhow::Result<()> {
    let watcher = build_watcher(config, &args.watch.entities(config)?)?;
    let store = Store::open(&config.store.path)?;
    config.store.prune(&store)?;
    let stats = replay_files(&watcher, &store, &args.files, args.from_start)?;
    print_replay(&stats);
    Ok(())
}

/// Replays files into the store, resuming each from its stored cursor unless `from_start`.
pub fn replay_files(
    watcher: &crate::watch::Watcher,
    store: &Store,
    files: &[PathBuf],
    from_start: bool,
) -> anyhow::Result<IngestStats> {
    let mut ing = Ingestor::new(watcher, store);
    let mut items = Vec::with_capacity(BATCH);
    for path in files {
        let canonical = path
            .canonicalize()
            .with_context(|| format!("opening {}", path.display()))?;
        let source = format!("file:{}", canonical.display());
        let cursor = if from_start {
            None
        } else {
            store.cursor(&source)?.and_then(|c| {
                c.parse::<Cursor>().ok().or_else(|| {
                    // A cursor of an older Veille: a position without a fingerprint.
                    c.parse().ok().map(|position| Cursor {
                        position,
                        head_len: 0,
                        head_hash: crate::store::dedup_hash_bytes(b""),
                    })
                })
            })
        };
        let mut file = PostFile::open(path, cursor)?;
        loop {
            items.clear();
            let more = file.next_batch(BATCH, &mut items)?;
            for item in items.drain(..) {
                match item {
                    Ok(post) => ing.process(post)?,
                    Err(bad) => ing.bad(&source, bad.kind, &bad.detail),
                }
            }
            ing.commit(Some((source.clone(), file.cursor().to_string())))?;
            if !more {
                break;
            }
        }
    }
    ing.finish()
}

fn print_replay(s: &IngestStats) {
    println!(
        "{} posts read, {} already stored, {} new naming a watched entity ({} critical)",
        s.posts, s.duplicates, s.kept, s.critical
    );
    for ((source, kind), n) in &s.bad {
        println!("skipped {n} × {kind} in {source}");
    }
}

/// Arguments of `veille stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// One entity, day by day; without it, every entity over the period.
    pub entity: Option<String>,
    /// From this day (YYYY-MM-DD, UTC), included.
    #[arg(long)]
    pub since: Option<String>,
    /// To this day (YYYY-MM-DD, UTC), included.
    #[arg(long)]
    pub until: Option<String>,
}

fn day_start(s: &str) -> anyhow::Result<i64> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("{s:?} is not a day: write YYYY-MM-DD"))?;
    Ok(Utc
        .from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .timestamp())
}

/// Runs `veille stats`.
pub fn stats(config: &Config, args: StatsArgs) -> anyhow::Result<()> {
    let store = Store::open(&config.store.path)?;
    let from = args
        .since
        .as_deref()
        .map(day_start)
        .transpose()?
        .map_or(i64::MIN / 8, |t| t.div_euclid(3600));
    let to = args
        .until
        .as_deref()
        .map(day_start)
        .transpose()?
        .map_or(i64::MAX / 8, |t| (t + 86_400).div_euclid(3600));
    print!("{}", stats_text(&store, args.entity.as_deref(), from, to)?);
    Ok(())
}

fn share(n: u64, d: u64) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / d as f64)
    }
}

/// The stats table for hours in `[from, to)`: every entity over the period, or one entity
/// day by day. The counters are read once.
pub fn stats_text(
    store: &Store,
    entity: Option<&str>,
    from: i64,
    to: i64,
) -> anyhow::Result<String> {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let scan = store.all_counts(from, to)?;
    let hours = scan.hours;
    let mut totals: BTreeMap<String, Counts> = BTreeMap::new();
    for (_, scopes) in &hours {
        for (scope, c) in scopes {
            totals.entry(scope.clone()).or_default().add(*c);
        }
    }
    let mut out = String::new();
    let row = |out: &mut String, label: &str, c: &Counts| {
        let _ = writeln!(
            out,
            "{label:<28}  {:>8}  {:>8}  {:>7}",
            c.posts,
            c.critical,
            share(c.critical, c.posts)
        );
    };
    match entity {
        Some(name) => {
            let fold = crate::watch::fold::fold;
            let scope = totals
                .keys()
                .find(|s| s.as_str() != ALL_POSTS && fold(s) == fold(name))
                .cloned()
                .with_context(|| {
                    let known: Vec<&str> = totals
                        .keys()
                        .map(String::as_str)
                        .filter(|s| *s != ALL_POSTS)
                        .collect();
                    format!(
                        "no mention of {name:?} is stored; entities with mentions: {}",
                        known.join(", ")
                    )
                })?;
            writeln!(out, "{scope}: mentions and critical share per day (UTC)")?;
            writeln!(
                out,
                "{:<28}  {:>8}  {:>8}  {:>7}",
                "day", "mentions", "critical", "share"
            )?;
            let mut days: BTreeMap<i64, Counts> = BTreeMap::new();
            for (hour, scopes) in &hours {
                if let Some(c) = scopes.get(&scope) {
                    days.entry(hour.div_euclid(24)).or_default().add(*c);
                }
            }
            for (day, c) in &days {
                let date = Utc
                    .timestamp_opt(day * 86_400, 0)
                    .single()
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                row(&mut out, &date, c);
            }
            row(&mut out, "total", &totals[&scope]);
        }
        None => {
            let all = totals.get(ALL_POSTS).copied().unwrap_or_default();
            writeln!(out, "posts counted: {}", all.posts)?;
            writeln!(
                out,
                "naming a watched entity: {} ({}; field figure: 1 in 5, 20%)",
                all.mentioning,
                share(all.mentioning, all.posts)
            )?;
            writeln!(
                out,
                "critical among those: {} ({}; field figure: 1 in 3, 33%)",
                all.critical,
                share(all.critical, all.mentioning)
            )?;
            writeln!(
                out,
                "\n{:<28}  {:>8}  {:>8}  {:>7}",
                "entity", "mentions", "critical", "share"
            )?;
            for (scope, c) in totals
                .iter()
                .filter(|(s, c)| s.as_str() != ALL_POSTS && c.posts > 0)
            {
                row(&mut out, scope, c);
            }
        }
    }
    if !scan.corrupt.is_empty() {
        writeln!(
            out,
            "\nwarning: {} hour(s) of counters cannot be read and are not in these figures: {}",
            scan.corrupt.len(),
            crate::store::hour_list(&scan.corrupt)
        )?;
    }
    Ok(out)
}

/// Arguments of `veille ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Poll each polling source (X recent search) once and exit, for cron and tests; streams
    /// are not started.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Runs `veille ingest` until ctrl-c or SIGTERM (or once).
pub fn ingest(config: &Config, args: IngestArgs) -> anyhow::Result<()> {
    use crate::ingest::pipeline::{self, Options};
    let entities = args.watch.entities(config)?;
    let watcher = build_watcher(config, &entities)?;
    let store = Store::open(&config.store.path)?;
    config.store.prune(&store)?;
    let tokens = crate::rank::collect::Tokens::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(pipeline::run(
        config,
        &entities,
        watcher,
        store,
        &tokens,
        Options { once: args.once },
        super::shutdown_signal(),
    ))?;
    let s = &report.stats;
    println!("sources: {}", report.sources.join(", "));
    println!(
        "{} posts read, {} already stored, {} new naming a watched entity ({} critical)",
        s.posts, s.duplicates, s.kept, s.critical
    );
    for ((source, kind), n) in &s.bad {
        println!("skipped {n} × {kind} from {source}");
    }
    anyhow::ensure!(report.failures.is_empty(), "{}", report.failures.join("; "));
    Ok(())
}
