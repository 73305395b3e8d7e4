//! `veille rank`, `veille position` and `veille import snapshots`: rankings on the terminal.

use std::path::PathBuf;

use crate::commands::collect::{self as collect_cmd, CollectEvent};
use crate::commands::rank::{self as cmd, RankQuery};
use crate::commands::{import as import_cmd, Context};
use crate::config::{Config, Tokens};
use crate::model::Lang;
use crate::rank::message;

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
    /// The language of the output: fr or en (default: English when the category is named in
    /// English, French otherwise).
    #[arg(long)]
    pub lang: Option<String>,
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
    /// interactions_month, rank (a published position), category (the list a rank was
    /// published in), source. Rows merge into the month's figures.
    Snapshots {
        /// The CSV file.
        file: PathBuf,
    },
}

/// The command context over the configured store and watched names.
fn context(config: &Config) -> anyhow::Result<Context> {
    Context::open(config.clone(), config.entities.clone())
}

/// Runs `veille rank`.
pub fn rank(config: &Config, args: RankArgs) -> anyhow::Result<()> {
    let ctx = context(config)?;
    let q = RankQuery {
        category: args.category,
        platform: args.platform,
        metric: args.metric,
        month: args.month,
    };
    let lang = cmd::reply_lang(
        &ctx.catalog,
        &q,
        args.lang.as_deref().map(Lang::from_locale),
    );
    let r = cmd::rank(&ctx, &q, lang)?;
    println!("{}", message::table(&r, args.top, lang).trim_end());
    Ok(())
}

/// Runs `veille position`.
pub fn position(config: &Config, args: PositionArgs) -> anyhow::Result<()> {
    let lang = Lang::from_locale(&args.lang);
    let ctx = context(config)?;
    let history = cmd::position(&ctx, &args.account, args.platform.as_deref(), lang)?;
    for p in &history {
        println!("{}", cmd::position_line(p, lang));
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
    let ctx = context(config)?;
    let report = import_cmd::import_snapshots(&ctx, &file, Lang::En)?;
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
    let platforms = collect_cmd::platforms(&args.platforms, Lang::En)?;
    let ctx = context(config)?;
    let tz = collect_cmd::timezone(&ctx)?;
    let tokens = Tokens::from_env();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bar = super::progress::Collect::new(super::progress::on_terminal());
    let mut print = |e: CollectEvent| {
        bar.update(&e);
        if let Some(line) = collect_line(&e, tz) {
            bar.println(&line);
        }
    };
    if !args.monthly {
        let month = match &args.month {
            Some(m) => cmd::parse_month(m, Lang::En)?,
            None => collect_cmd::current_month(&ctx)?,
        };
        let collected = runtime.block_on(collect_cmd::collect_once(
            &ctx, &tokens, &platforms, month, &mut print,
        ))?;
        anyhow::ensure!(collected, "nothing was collected");
        return Ok(());
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    runtime.block_on(async {
        let stop = cancel.clone();
        tokio::spawn(async move {
            super::shutdown_signal().await;
            stop.cancel();
        });
        collect_cmd::monthly(&ctx, &tokens, &platforms, cancel, &mut print).await
    })?;
    ctx.store.flush()?;
    println!("stopped");
    Ok(())
}

/// The line a collection event prints, if any.
fn collect_line(e: &CollectEvent, tz: chrono_tz::Tz) -> Option<String> {
    Some(match e {
        CollectEvent::Started { .. } | CollectEvent::Progress { .. } => return None,
        CollectEvent::NoAccounts(p) => format!("{p}: no catalogue account has a handle there"),
        CollectEvent::Done {
            platform,
            month,
            collected,
            of,
            missing,
        } => {
            let mut line =
                format!("{platform}: {collected} of {of} accounts collected for {month}");
            if !missing.is_empty() {
                let missing: Vec<String> = missing.iter().map(|h| format!("@{h}")).collect();
                line.push_str(&format!(
                    "\n{platform}: not found (deleted, renamed or private): {}",
                    missing.join(", ")
                ));
            }
            line
        }
        CollectEvent::Skipped { platform, reason } => format!("{platform}: skipped: {reason}"),
        CollectEvent::Next(at) => format!(
            "next collection: {} ({tz})",
            at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
        ),
    })
}
