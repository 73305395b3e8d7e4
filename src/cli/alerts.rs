//! `veille simulate`, `veille eval-alerts` and `veille buzz`: bad-buzz alerts on a terminal.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::alerts::notify::{JsonlNotifier, Notifier};
use crate::alerts::simulate::{self, Spec, Truth};
use crate::alerts::{Detector, Runner, Settings};
use crate::commands::buzz::{self as buzz_cmd, BuzzQuery};
use crate::commands::replay::{self as replay_cmd, ReplayQuery};
use crate::commands::Context;
use crate::config::Config;
use crate::ingest::IngestStats;
use crate::model::Sensitivity;
use crate::model::{EntityKind, EntitySpec, Lang};

/// Arguments of `veille simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The directory receiving `posts.jsonl` and `truth.jsonl` (the bursts).
    #[arg(long, default_value = "data/sim")]
    pub out: PathBuf,
    /// Days simulated.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The seed: the same seed writes the same stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Multiplies every name's volume (1 is 9,400 mentions a day in all).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Burst multipliers, cycled (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1.5, 2.0, 3.0, 5.0])]
    pub factors: Vec<f64>,
}

/// Runs `veille simulate`.
pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    anyhow::ensure!(
        args.scale > 0.0 && args.scale.is_finite() && !args.factors.is_empty(),
        "--scale must be a positive number and --factors name at least one multiplier"
    );
    let mut spec = Spec::demo(args.seed, args.days);
    spec.factors = args.factors;
    for e in &mut spec.entities {
        e.per_day *= args.scale;
    }
    let posts_path = args.out.join("posts.jsonl");
    let mut posts = std::io::BufWriter::new(std::fs::File::create(&posts_path)?);
    let truth = simulate::generate(&spec, &mut posts)?;
    posts.flush()?;
    let mut t = std::io::BufWriter::new(std::fs::File::create(args.out.join("truth.jsonl"))?);
    for tr in &truth {
        serde_json::to_writer(&mut t, tr)?;
        t.write_all(b"\n")?;
    }
    t.flush()?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(args.out.join("watch.toml"))?);
    for e in &spec.entities {
        writeln!(
            w,
            "[[entity]]\nname = {:?}\nkind = \"brand\"\naliases = {:?}\n",
            e.name, e.aliases
        )?;
    }
    w.flush()?;
    println!(
        "{} days, {} bursts and {} neutral surges written to {} (truth.jsonl, watch.toml)",
        args.days,
        truth.iter().filter(|t| t.kind == "burst").count(),
        truth.iter().filter(|t| t.kind == "surge").count(),
        posts_path.display()
    );
    Ok(())
}

/// Arguments of `veille eval-alerts`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalAlertsArgs {
    /// Directories written by `veille simulate`; several (other seeds) are pooled.
    #[arg(default_value = "data/sim", num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// The sensitivity evaluated (the config's by default).
    #[arg(long)]
    pub sensitivity: Option<String>,
    /// Also print every alert event as a JSON line.
    #[arg(long)]
    pub events: bool,
}

/// Replays `files` into `ctx`'s store with the detector on; returns the runner (its events
/// and latencies) and the ingest figures.
pub fn replay_with_alerts(
    ctx: &Context,
    files: Vec<PathBuf>,
    from_start: bool,
    notifiers: Vec<Box<dyn Notifier>>,
) -> anyhow::Result<(Runner, IngestStats)> {
    let detector = Detector::new(Settings::from_config(&ctx.config)?, ctx.store.clone())?;
    let runner = Runner::new(detector, notifiers).recording();
    let (tx, rx) = tokio::sync::broadcast::channel(4096);
    let store = ctx.store.clone();
    let follower = std::thread::Builder::new()
        .name("veille-alerts".into())
        .spawn(move || runner.run_blocking(&store, rx))?;
    let q = ReplayQuery { files, from_start };
    let mut bar = super::progress::Replay::new(super::progress::on_terminal());
    let stats = replay_cmd::replay(ctx, &q, Some(tx), Lang::En, &mut |p| bar.update(p));
    bar.finish();
    let runner = follower
        .join()
        .map_err(|_| anyhow::anyhow!("the alert thread panicked"))?;
    Ok((runner, stats?))
}

/// Runs `veille eval-alerts`: each directory replayed into a store of its own, the figures
/// pooled over all of them.
pub fn eval_alerts(config: &Config, args: EvalAlertsArgs) -> anyhow::Result<()> {
    let mut config = config.clone();
    if let Some(s) = &args.sensitivity {
        config.alerts.sensitivity = Sensitivity::parse(s)
            .ok_or_else(|| anyhow::anyhow!("unknown sensitivity {s:?}: low, medium or high"))?;
    }
    config.alerts.entities.clear();
    config.rank.demo_data = false;
    let mut report = simulate::EvalReport::default();
    let mut latencies = Vec::new();
    for dir in &args.dirs {
        let (r, lat) = eval_one(&config, dir, args.events)?;
        report.merge(r);
        latencies.extend(lat);
    }
    println!("burst   bursts  eligible  detected  recall  oracle  median delay  oracle delay");
    // Figures of a row with no eligible burst (or no delay) are NaN: shown as `-`.
    let shown = |x: f64, text: String| if x.is_nan() { "-".to_string() } else { text };
    for r in &report.by_factor {
        println!(
            "{:>4}x  {:>7}  {:>8}  {:>8}  {:>6}  {:>6}  {:>12}  {:>12}",
            r.factor,
            r.bursts,
            r.eligible,
            r.detected,
            shown(r.recall(), format!("{:.2}", r.recall())),
            shown(r.oracle_recall(), format!("{:.2}", r.oracle_recall())),
            shown(r.median_delay(), format!("{:.0} min", r.median_delay())),
            shown(r.oracle_delay(), format!("{:.0} min", r.oracle_delay())),
        );
    }
    let per_30 = report.false_alerts as f64 / report.entity_days * 30.0;
    println!(
        "alerts opened: {}; false: {} ({} on neutral surges), {:.2} per name per 30 days",
        report.opens, report.false_alerts, report.on_surges, per_30
    );
    let mut lat: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    lat.sort_by(f64::total_cmp);
    if !lat.is_empty() {
        let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
        println!(
            "latency from a post read to its alert delivered: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} events)",
            q(0.5),
            q(0.99),
            lat[lat.len() - 1],
            lat.len()
        );
    }
    Ok(())
}

/// Replays one simulated stream with the detector on, in a store of its own: its report
/// and the latencies of its alerts.
fn eval_one(
    config: &Config,
    dir: &Path,
    events: bool,
) -> anyhow::Result<(simulate::EvalReport, Vec<std::time::Duration>)> {
    let truth: Vec<Truth> = std::fs::read_to_string(dir.join("truth.jsonl"))
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.join("truth.jsonl").display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut names: Vec<String> = truth.iter().map(|t| t.entity.clone()).collect();
    names.sort();
    names.dedup();
    let entities: Vec<EntitySpec> = match std::fs::metadata(dir.join("watch.toml")) {
        Ok(_) => crate::config::read_watch_file(&dir.join("watch.toml"))?,
        Err(_) => names
            .iter()
            .map(|n| EntitySpec {
                name: n.clone(),
                kind: EntityKind::Brand,
                aliases: Vec::new(),
                ambiguous: false,
                exclude: Vec::new(),
            })
            .collect(),
    };
    let mut config = config.clone();
    let tmp = tempfile_dir()?;
    config.store.path = tmp.join("store");
    let ctx = Context::open(config.clone(), entities.clone())?.learned()?;
    let posts = dir.join("posts.jsonl");
    let notifiers: Vec<Box<dyn Notifier>> = if events {
        vec![Box::new(JsonlNotifier::new(Box::new(std::io::stdout())))]
    } else {
        Vec::new()
    };
    let started = std::time::Instant::now();
    let replayed = replay_with_alerts(&ctx, vec![posts], true, notifiers);
    let elapsed = started.elapsed().as_secs_f64();
    drop(ctx);
    let _ = std::fs::remove_dir_all(&tmp);
    let (runner, stats) = replayed?;
    // The span from the first burst to the last: shorter than the stream, so the false
    // alerts per 30 days are, if anything, overstated.
    let first = truth.iter().map(|t| t.start).min();
    let last = truth.iter().map(|t| t.end).max();
    let days = match (first, last) {
        (Some(a), Some(b)) => ((b - a).num_hours() as f64 / 24.0).max(1.0),
        _ => 1.0,
    };
    let bucket = i64::from(config.alerts.bucket_minutes);
    let report = simulate::evaluate(
        &truth,
        &runner.delivered,
        config.alerts.min_critical,
        chrono::Duration::minutes(2 * bucket),
        days.ceil() * entities.len() as f64,
        // One false alert per name per 30 days, one test a bucket.
        bucket as f64 / (30.0 * 24.0 * 60.0),
    );
    println!(
        "{}: sensitivity {}, buckets of {bucket} min; {} posts replayed in {:.1} s ({:.0} posts/s), {} critical mentions of {} mentions",
        dir.display(),
        config.alerts.sensitivity.id(),
        stats.posts,
        elapsed,
        stats.posts as f64 / elapsed,
        stats.critical,
        stats.kept
    );
    Ok((report, runner.latencies))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("veille-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Arguments of `veille buzz`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuzzArgs {
    /// The watched name.
    pub entity: String,
    /// From this time (RFC 3339, or YYYY-MM-DD); the last 48 hours of data by default.
    #[arg(long)]
    pub since: Option<String>,
    /// Write the chart to this PNG file.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Runs `veille buzz`.
pub fn buzz(config: &Config, args: BuzzArgs) -> anyhow::Result<()> {
    let lang = Lang::En;
    let ctx = Context::open(config.clone(), config.entities.clone())?;
    let q = BuzzQuery {
        entity: args.entity,
        since: args
            .since
            .as_deref()
            .map(|s| buzz_cmd::parse_time(s, lang))
            .transpose()?,
    };
    let reply = buzz_cmd::buzz(&ctx, &q, lang)?;
    print!("{}", buzz_cmd::text(&reply, lang));
    if let Some(path) = args.png {
        write_png(&path, &buzz_cmd::chart(&ctx, &reply, lang)?)?;
        println!("chart: {}", path.display());
    }
    Ok(())
}

fn write_png(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}
