//! `veille rank`, `veille position` and `veille import snapshots`: rankings on the terminal.

use std::path::PathBuf;

use anyhow::Context;

use crate::commands::rank::{self as cmd, RankQuery};
use crate::config::Config;
use crate::model::{Lang, Month, Snapshot};
use crate::rank::catalog::{Catalog, Platform};
use crate::rank::{message, seeds};
use crate::store::Store;

/// Arguments of `veille rank`.
#[derive(Debug, Clone, clap::Args)]
pub struct RankArgs {
    /// The category: villes, départements, régions, métropoles, agglomérations, communautés de
    /// communes, grandes villes, villes moyennes, petites villes (English names work too).
    pub category: String,
    /// The platform: twitter (x), instagram, bluesky, facebook.
    pub platform: String,
    /// Rank by: posts, followers, growth, engagement, performance (default: posts on X,
    /// performance on Instagram, followers elsewhere).
    #[arg(long)]
    pub metric: Option<String>,
    /// The month, YYYY-MM (default: the latest with data).
    #[arg(long)]
    pub month: Option<String>,
    /// How many rows to show.
    #[arg(long, default_value_t = 50)]
    pub top: usize,
    /// The language of the output: fr or en.
    #[arg(long, default_value = "fr")]
    pub lang: String,
}

/// Arguments of `veille position`.
#[derive(Debug, Clone, clap::Args)]
pub struct PositionArgs {
    /// The account: its @handle or its name.
    pub account: String,
    /// Only on this platform.
    pub platform: Option<String>,
    /// The language of the output: fr or en.
    #[arg(long, default_value = "fr")]
    pub lang: String,
}

/// What `veille import` imports.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImportWhat {
    /// Monthly snapshots from a CSV file with a header: platform, account (handle or name),
    /// month (YYYY-MM), and any of followers, following, posts_total, posts_month,
    /// interactions_month, rank (a published position), source.
    Snapshots {
        /// The CSV file.
        file: PathBuf,
    },
}

/// Opens the store and the catalogue, importing the seed figures on first start.
fn open(config: &Config) -> anyhow::Result<(Store, Catalog)> {
    let catalog = Catalog::load(&config.rank.catalog)?;
    let store = Store::open(&config.store.path)?;
    if config.rank.demo_data && seeds::ensure(&store, &catalog)? {
        tracing::info!("imported the seed articles' figures into the store");
    }
    Ok((store, catalog))
}

/// Runs `veille rank`.
pub fn rank(config: &Config, args: RankArgs) -> anyhow::Result<()> {
    let lang = Lang::from_locale(&args.lang);
    let (store, catalog) = open(config)?;
    let q = RankQuery {
        category: args.category,
        platform: args.platform,
        metric: args.metric,
        month: args.month,
    };
    let r = cmd::rank(&store, &catalog, &q, lang)?;
    print!("{}", message::table(&r, args.top, lang));
    Ok(())
}

/// Runs `veille position`.
pub fn position(config: &Config, args: PositionArgs) -> anyhow::Result<()> {
    let lang = Lang::from_locale(&args.lang);
    let (store, catalog) = open(config)?;
    let history = cmd::position(
        &store,
        &catalog,
        &args.account,
        args.platform.as_deref(),
        lang,
    )?;
    for p in &history {
        let r = &p.ranking;
        let row = &r.rows[p.row];
        let line = format!(
            "{}  {:<10} {:<28} {:>4}  {:<8} {}",
            r.month,
            r.platform.id(),
            match lang {
                Lang::Fr => &r.label_fr,
                Lang::En => &r.label_en,
            },
            message::ordinal(row.rank, lang),
            row.movement.symbol(lang),
            row.value
                .map(|v| r.metric.format(v, lang))
                .unwrap_or_default()
        );
        println!("{}", line.trim_end());
    }
    if let Some(last) = history.last() {
        println!(
            "\n{}",
            message::position_sentence(&last.ranking, &last.ranking.rows[last.row], lang)
        );
    }
    Ok(())
}

/// Runs `veille import`.
pub fn import(config: &Config, what: ImportWhat) -> anyhow::Result<()> {
    let ImportWhat::Snapshots { file } = what;
    let (store, catalog) = open(config)?;
    let report = import_snapshots(&store, &catalog, &file)?;
    for e in &report.errors {
        eprintln!("{}: {e}", file.display());
    }
    println!(
        "{} snapshots imported, {} rows skipped",
        report.imported,
        report.errors.len()
    );
    Ok(())
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Snapshots written.
    pub imported: usize,
    /// One message per skipped row, with its line number.
    pub errors: Vec<String>,
}

/// Imports a snapshot CSV: good rows are written (durably), bad rows reported by line.
pub fn import_snapshots(
    store: &Store,
    catalog: &Catalog,
    file: &std::path::Path,
) -> anyhow::Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("reading {}", file.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("reading the header of {}", file.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(pc), Some(ac), Some(mc)) = (col("platform"), col("account"), col("month")) else {
        anyhow::bail!(
            "{}: the header needs platform, account and month columns",
            file.display()
        );
    };
    let numbers = [
        "followers",
        "following",
        "posts_total",
        "posts_month",
        "interactions_month",
        "rank",
    ]
    .map(|n| (n, col(n)));
    let source_col = col("source");
    let default_source = format!(
        "import {}",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("csv")
    );
    let now = chrono::Utc::now();
    let mut report = ImportReport::default();
    let mut rows: Vec<(Platform, String, Month, Snapshot)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let parsed = (|| -> anyhow::Result<(Platform, String, Month, Snapshot)> {
            let field = |c: usize| record.get(c).unwrap_or("");
            let platform = Platform::parse(field(pc))?;
            let month: Month = field(mc).parse().map_err(anyhow::Error::msg)?;
            let account = field(ac);
            let found = catalog.find_account(account, Some(platform));
            let mut keys: Vec<String> = found.iter().map(|(_, a)| a.key(platform)).collect();
            keys.sort();
            keys.dedup();
            let key = match keys.as_slice() {
                [k] => k.clone(),
                [] => anyhow::bail!("unknown account {account:?} on {platform}"),
                _ => anyhow::bail!(
                    "{account:?} names several accounts on {platform}; use its @handle"
                ),
            };
            let mut snap = Snapshot {
                source: source_col
                    .map(field)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(&default_source)
                    .to_string(),
                collected_at: now,
                ..Snapshot::default()
            };
            for (name, c) in numbers {
                let Some(c) = c else { continue };
                let text = field(c).replace(['\u{202F}', '\u{A0}', ' ', '_'], "");
                if text.is_empty() {
                    continue;
                }
                let n: u64 = text
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name} is not a whole number: {:?}", field(c)))?;
                match name {
                    "followers" => snap.followers = Some(n),
                    "following" => snap.following = Some(n),
                    "posts_total" => snap.posts_total = Some(n),
                    "posts_month" => snap.posts_month = Some(n),
                    "interactions_month" => snap.interactions_month = Some(n),
                    _ => snap.published_rank = Some(u32::try_from(n).context("rank too large")?),
                }
            }
            Ok((platform, key, month, snap))
        })();
        match parsed {
            Ok(row) => rows.push(row),
            Err(e) => report.errors.push(format!("line {line}: {e}")),
        }
    }
    report.imported =
        store.put_snapshots(rows.iter().map(|(p, k, m, s)| (*p, k.as_str(), *m, s)))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_import_keeps_good_rows_and_reports_bad_ones_by_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("snaps.csv");
        std::fs::write(
            &file,
            "platform,account,month,followers,following,posts_month,interactions_month,source\n\
             instagram,@gersledepartement,2021-07,15000,300,31,25000,Meta export\n\
             instagram,@nobody,2021-07,1,1,1,1,\n\
             instagram,Isère,2021-13,1,1,1,1,\n\
             tiktok,Gers,2021-07,1,1,1,1,\n\
             instagram,paris_maville,2021-07,12 000,100,abc,1,\n\
             instagram,Eure,2021-07,9000,,,,\n",
        )
        .expect("write");
        let store = Store::temporary().expect("store");
        let catalog = Catalog::bundled();
        let report = import_snapshots(&store, &catalog, &file).expect("import");
        assert_eq!(report.imported, 2);
        let lines: Vec<&str> = report.errors.iter().map(|e| &e[..7]).collect();
        assert_eq!(lines, ["line 3:", "line 4:", "line 5:", "line 6:"]);
        assert!(
            report.errors[0].contains("unknown account"),
            "{:?}",
            report.errors
        );
        assert!(
            report.errors[3].contains("posts_month"),
            "{:?}",
            report.errors
        );
        let m: Month = "2021-07".parse().expect("month");
        let gers = store
            .snapshot(Platform::Instagram, m, "gersledepartement")
            .expect("read")
            .expect("stored");
        assert_eq!(
            (gers.followers, gers.source.as_str()),
            (Some(15_000), "Meta export")
        );
        let eure = store
            .snapshot(Platform::Instagram, m, "eureennormandie")
            .expect("read")
            .expect("stored");
        assert_eq!(
            (eure.followers, eure.source.as_str()),
            (Some(9_000), "import snaps.csv")
        );
    }
}

/// Arguments of `veille collect`.
#[derive(Debug, Clone, clap::Args)]
pub struct CollectArgs {
    /// Only these platforms (default: twitter, bluesky and instagram).
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<String>,
    /// The month the figures are filed under (default: the current month in the collection's
    /// time zone).
    #[arg(long, conflicts_with = "monthly")]
    pub month: Option<String>,
    /// Keep running and collect on the configured day of every month (`[collect]`: day 1,
    /// 6:00, Europe/Paris), filing the figures under the month just ended; ctrl-c or SIGTERM stops.
    #[arg(long)]
    pub monthly: bool,
}

/// Runs `veille collect`: every catalogue account on each platform, once now, or every month
/// with `--monthly`.
pub fn collect(config: &Config, args: CollectArgs) -> anyhow::Result<()> {
    let platforms: Vec<Platform> = if args.platforms.is_empty() {
        vec![Platform::Twitter, Platform::Bluesky, Platform::Instagram]
    } else {
        args.platforms
            .iter()
            .map(|p| Platform::parse(p))
            .collect::<Result<_, _>>()?
    };
    let tz: chrono_tz::Tz = config
        .collect
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("bad collect.timezone"))?;
    let (store, catalog) = open(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if !args.monthly {
        let month = match &args.month {
            Some(m) => m.parse::<Month>().map_err(anyhow::Error::msg)?,
            None => Month::of(chrono::Utc::now().with_timezone(&tz).date_naive()),
        };
        let collected =
            runtime.block_on(collect_once(config, &store, &catalog, &platforms, month))?;
        anyhow::ensure!(collected, "nothing was collected");
        return Ok(());
    }
    runtime.block_on(async {
        loop {
            let next = crate::rank::collect::next_run(chrono::Utc::now(), &config.collect)?;
            println!(
                "next collection: {} ({})",
                next.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
                config.collect.timezone
            );
            let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = super::shutdown_signal() => {
                    store.flush()?;
                    println!("stopped");
                    return Ok(());
                }
            }
            // On the collection day, the figures are those of the month just ended.
            let month = Month::of(next.with_timezone(&tz).date_naive()).prev();
            if let Err(e) = collect_once(config, &store, &catalog, &platforms, month).await {
                tracing::error!(error = format!("{e:#}"), "monthly collection failed");
            }
        }
    })
}

/// Collects each platform once and files the figures under `month`. Returns whether anything
/// was collected; a platform that fails is reported and the others go on.
async fn collect_once(
    config: &Config,
    store: &Store,
    catalog: &Catalog,
    platforms: &[Platform],
    month: Month,
) -> anyhow::Result<bool> {
    use crate::rank::collect::{self, Tokens};
    let tokens = Tokens::from_env();
    let retry = crate::http::Retry::default();
    let mut collected_any = false;
    for &platform in platforms {
        let targets = collect::targets(catalog, platform);
        if targets.is_empty() {
            println!("{platform}: no catalogue account has a handle there");
            continue;
        }
        match collect::collect(platform, &targets, &config.sources, &tokens, month, &retry).await {
            Ok(got) => {
                store.put_snapshots(
                    got.snapshots
                        .iter()
                        .map(|(k, s)| (platform, k.as_str(), month, s)),
                )?;
                collected_any |= !got.snapshots.is_empty();
                println!(
                    "{platform}: {} of {} accounts collected for {month}",
                    got.snapshots.len(),
                    targets.len()
                );
                if !got.missing.is_empty() {
                    let missing: Vec<String> =
                        got.missing.iter().map(|h| format!("@{h}")).collect();
                    println!(
                        "{platform}: not found (deleted, renamed or private): {}",
                        missing.join(", ")
                    );
                }
            }
            Err(e) => {
                tracing::warn!(platform = %platform, error = %e, "collection failed");
                println!("{platform}: skipped: {e}");
            }
        }
    }
    Ok(collected_any)
}
