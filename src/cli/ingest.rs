//! `veille replay` and `veille stats`: files of posts into the store, and what the store counted.

use std::io::Write;
use std::path::PathBuf;

use super::WatchArgs;
use crate::alerts::notify::JsonlNotifier;
use crate::commands::replay::{self as replay_cmd, ReplayQuery};
use crate::commands::stats::{self as stats_cmd, StatsQuery, StatsReply};
use crate::commands::Context;
use crate::config::Config;
use crate::ingest::IngestStats;
use crate::model::Lang;
use crate::store::Counts;

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
    /// Run the bad-buzz detector while replaying: one JSON line per alert event on standard
    /// output (the summary goes to standard error).
    #[arg(long)]
    pub alerts: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Runs `veille replay`.
pub fn replay(config: &Config, args: ReplayArgs) -> anyhow::Result<()> {
    let ctx = Context::open(config.clone(), args.watch.entities(config)?)?.learned()?;
    ctx.store
        .apply_retention(crate::ingest::retention(config))?;
    if args.alerts {
        let stdout = JsonlNotifier::new(Box::new(std::io::stdout()));
        let (runner, stats) = super::alerts::replay_with_alerts(
            &ctx,
            args.files,
            args.from_start,
            vec![Box::new(stdout)],
        )?;
        let mut err = std::io::stderr();
        print_replay(&mut err, &stats)?;
        writeln!(err, "{} alert events", runner.delivered.len())?;
        return Ok(());
    }
    let q = ReplayQuery {
        files: args.files,
        from_start: args.from_start,
    };
    let mut bar = super::progress::Replay::new(super::progress::on_terminal());
    let stats = replay_cmd::replay(&ctx, &q, None, Lang::En, &mut |p| bar.update(p));
    bar.finish();
    let stats = stats?;
    print_replay(&mut std::io::stdout(), &stats)?;
    Ok(())
}

fn print_replay(out: &mut dyn Write, s: &IngestStats) -> std::io::Result<()> {
    writeln!(
        out,
        "{} posts read, {} already stored, {} new naming a watched entity ({} critical)",
        s.posts, s.duplicates, s.kept, s.critical
    )?;
    for ((source, kind), n) in &s.bad {
        writeln!(out, "skipped {n} × {kind} in {source}")?;
    }
    Ok(())
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

/// Runs `veille stats`. A store that does not exist is not created: it is new and empty.
pub fn stats(config: &Config, args: StatsArgs) -> anyhow::Result<()> {
    let path = &config.store.path;
    if !path.exists() {
        println!(
            "the store at {} is new and empty: nothing was replayed or ingested into it yet",
            path.display()
        );
        return Ok(());
    }
    let lang = Lang::En;
    let q = StatsQuery {
        entity: args.entity,
        since: args
            .since
            .as_deref()
            .map(|d| stats_cmd::parse_day(d, lang))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| stats_cmd::parse_day(d, lang))
            .transpose()?,
    };
    let ctx = Context::open(config.clone(), config.entities.clone())?;
    print!("{}", stats_text(&stats_cmd::stats(&ctx, &q, lang)?));
    Ok(())
}

fn share(n: u64, d: u64) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / d as f64)
    }
}

/// The stats reply as a terminal table.
pub fn stats_text(reply: &StatsReply) -> String {
    use std::fmt::Write;
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
    let corrupt = match reply {
        StatsReply::Entity {
            name,
            days,
            total,
            corrupt,
        } => {
            let _ = writeln!(out, "{name}: mentions and critical share per day (UTC)");
            let _ = writeln!(
                out,
                "{:<28}  {:>8}  {:>8}  {:>7}",
                "day", "mentions", "critical", "share"
            );
            for (day, c) in days {
                row(&mut out, &day.format("%Y-%m-%d").to_string(), c);
            }
            row(&mut out, "total", total);
            corrupt
        }
        StatsReply::All {
            all,
            entities,
            corrupt,
        } => {
            let _ = writeln!(out, "posts counted: {}", all.posts);
            let _ = writeln!(
                out,
                "naming a watched entity: {} ({}; field figure: 1 in 5, 20%)",
                all.mentioning,
                share(all.mentioning, all.posts)
            );
            let _ = writeln!(
                out,
                "critical among those: {} ({}; field figure: 1 in 3, 33%)",
                all.critical,
                share(all.critical, all.mentioning)
            );
            let _ = writeln!(
                out,
                "\n{:<28}  {:>8}  {:>8}  {:>7}",
                "entity", "mentions", "critical", "share"
            );
            for (scope, c) in entities {
                row(&mut out, scope, c);
            }
            corrupt
        }
    };
    if !corrupt.is_empty() {
        let _ = writeln!(
            out,
            "\nwarning: {} hour(s) of counters cannot be read and are not in these figures: {}",
            corrupt.len(),
            crate::store::hour_list(corrupt)
        );
    }
    out
}

/// Arguments of `veille ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Poll each polling source once (the configured feeds, X recent search when
    /// X_BEARER_TOKEN is set) and exit, for cron and tests; streams are not started.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Runs `veille ingest` until ctrl-c or SIGTERM (or once).
pub fn ingest(config: &Config, args: IngestArgs) -> anyhow::Result<()> {
    use crate::ingest::pipeline::{self, Options};
    let entities = args.watch.entities(config)?;
    let ctx = Context::open(config.clone(), entities)?.learned()?;
    ctx.store
        .apply_retention(crate::ingest::retention(config))?;
    let tokens = crate::config::Tokens::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(pipeline::run(
        ctx.watching(),
        &tokens,
        Options {
            once: args.once,
            ..Options::default()
        },
        None,
        super::shutdown_signal(),
    ))?;
    anyhow::ensure!(
        !report.sources.is_empty(),
        "no source to run: set X_BEARER_TOKEN for X, add feeds to [sources.feeds] urls, or enable sources.bluesky.jetstream (not with --once)"
    );
    let s = &report.stats;
    println!("sources: {}", report.sources.join(", "));
    let mut x = crate::ingest::pipeline::Read::default();
    for (source, r) in &report.read {
        if source.starts_with("x-") {
            x.posts += r.posts;
            x.new += r.new;
        }
    }
    if report.sources.iter().any(|s| s.starts_with('X')) {
        println!("X: {} posts read, {} new", x.posts, x.new);
    }
    if let Some(b) = report.x_bill {
        println!(
            "X today: {} posts read of {} allowed (≈ ${:.2}){}",
            b.read,
            b.max,
            b.cost,
            if b.paused {
                "; paused until the next UTC day"
            } else {
                ""
            }
        );
    }
    if let Some(r) = report.read.get(crate::ingest::instagram::SOURCE) {
        println!("Instagram comments: {} read, {} new", r.posts, r.new);
    }
    let mut feeds_read = 0;
    for (url, state) in &report.feeds {
        use crate::ingest::feeds::{source_key, FeedState};
        let r = report
            .read
            .get(&source_key(url))
            .copied()
            .unwrap_or_default();
        let line = match state {
            FeedState::Read { items, .. } => {
                feeds_read += 1;
                if *items == 0 && r.posts == 0 {
                    "not modified".to_string()
                } else {
                    format!("{} items, {} new", r.posts, r.new)
                }
            }
            FeedState::Failing { why, .. } => format!("failed: {why}"),
            FeedState::Stopped { why } => format!("not polled: {why}"),
            FeedState::Waiting => "not polled".to_string(),
        };
        println!("feed {url}: {line}");
    }
    println!(
        "{} posts read, {} already stored, {} new naming a watched entity ({} critical)",
        s.posts, s.duplicates, s.kept, s.critical
    );
    for ((source, kind), n) in &s.bad {
        println!("skipped {n} × {kind} from {source}");
    }
    for ((source, kind), n) in &s.notes {
        println!("kept {n} × {kind} from {source}");
    }
    for f in &report.failures {
        eprintln!("veille: {f}");
    }
    // Exit 0 when some source could be read: a source that did not fail, or a feed read.
    let anything = feeds_read > 0
        || report
            .sources
            .iter()
            .filter(|s| s.as_str() != crate::ingest::feeds::SOURCE_NAME)
            .any(|s| !report.failures.iter().any(|f| f.starts_with(s.as_str())));
    anyhow::ensure!(
        anything,
        "no source could be read: {}",
        if report.failures.is_empty() {
            "every feed failed".to_string()
        } else {
            report.failures.join("; ")
        }
    );
    Ok(())
}
