//! `collect`: the catalogue accounts' figures from X, Bluesky and Instagram, now or every
//! month. Progress goes through a callback; the command prints nothing.

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{unknown, CommandError, CommandResult, Context};
use crate::config::Tokens;
use crate::model::{Lang, Month, Platform};
use crate::rank::collect as collector;

/// What happened during a collection, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectEvent {
    /// A platform's collection starts.
    Started {
        /// The platform.
        platform: Platform,
        /// The catalogue accounts with a handle there.
        accounts: usize,
    },
    /// No catalogue account has a handle on the platform.
    NoAccounts(Platform),
    /// Accounts done so far on a platform (after each request).
    Progress {
        /// The platform.
        platform: Platform,
        /// Accounts answered (collected or missing).
        done: usize,
        /// Accounts asked for.
        of: usize,
    },
    /// A platform is done.
    Done {
        /// The platform.
        platform: Platform,
        /// The month the figures are filed under.
        month: Month,
        /// Accounts collected.
        collected: usize,
        /// Accounts asked for.
        of: usize,
        /// Handles the service does not know (deleted, renamed or private).
        missing: Vec<String>,
    },
    /// A platform was skipped, and why (no token, refused credentials, the service down).
    Skipped {
        /// The platform.
        platform: Platform,
        /// Why, with no secret in it.
        reason: String,
    },
    /// The monthly loop waits for its next run.
    Next(DateTime<Utc>),
}

/// The platforms named by the user, or X, Bluesky and Instagram.
pub fn platforms(names: &[String], lang: Lang) -> CommandResult<Vec<Platform>> {
    if names.is_empty() {
        return Ok(vec![
            Platform::Twitter,
            Platform::Bluesky,
            Platform::Instagram,
        ]);
    }
    names
        .iter()
        .map(|p| Platform::parse(p).map_err(unknown(lang)))
        .collect()
}

/// The collection's time zone.
pub fn timezone(ctx: &Context) -> CommandResult<chrono_tz::Tz> {
    ctx.config.collect.timezone.parse().map_err(|_| {
        CommandError::Internal(anyhow::anyhow!(
            "collect.timezone {:?} is not an IANA time zone",
            ctx.config.collect.timezone
        ))
    })
}

/// The current month in the collection's time zone.
pub fn current_month(ctx: &Context) -> CommandResult<Month> {
    Ok(Month::of(
        Utc::now().with_timezone(&timezone(ctx)?).date_naive(),
    ))
}

/// Collects each platform once and files the figures under `month` (merged into what the
/// store holds). Returns whether anything was collected; a platform that fails is reported
/// through `progress` and the others go on.
pub async fn collect_once(
    ctx: &Context,
    tokens: &Tokens,
    platforms: &[Platform],
    month: Month,
    progress: &mut (dyn FnMut(CollectEvent) + Send),
) -> CommandResult<bool> {
    let retry = crate::http::Retry::default();
    let mut collected_any = false;
    for &platform in platforms {
        let targets = collector::targets(&ctx.catalog, platform);
        if targets.is_empty() {
            progress(CollectEvent::NoAccounts(platform));
            continue;
        }
        progress(CollectEvent::Started {
            platform,
            accounts: targets.len(),
        });
        let of = targets.len();
        let mut done = |done: usize| progress(CollectEvent::Progress { platform, done, of });
        let got = collector::collect(
            platform,
            &targets,
            &ctx.config.sources,
            tokens,
            month,
            &retry,
            &mut done,
        )
        .await;
        match got {
            Ok(got) => {
                let store = ctx.store.clone();
                let snapshots = got.snapshots;
                let n = snapshots.len();
                tokio::task::spawn_blocking(move || {
                    store.put_snapshots(
                        snapshots
                            .iter()
                            .map(|(k, s)| (platform, k.as_str(), month, s)),
                    )
                })
                .await
                .map_err(anyhow::Error::from)??;
                collected_any |= n > 0;
                progress(CollectEvent::Done {
                    platform,
                    month,
                    collected: n,
                    of: targets.len(),
                    missing: got.missing,
                });
            }
            Err(e) => {
                tracing::warn!(platform = %platform, error = %e, "collection failed");
                progress(CollectEvent::Skipped {
                    platform,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(collected_any)
}

/// Collects on the configured day of every month (`[collect]`), filing the figures under the
/// month just ended, until `cancel`. A failed collection is logged and the loop goes on.
pub async fn monthly(
    ctx: &Context,
    tokens: &Tokens,
    platforms: &[Platform],
    cancel: CancellationToken,
    progress: &mut (dyn FnMut(CollectEvent) + Send),
) -> CommandResult<()> {
    let tz = timezone(ctx)?;
    loop {
        let next = collector::next_run(Utc::now(), &ctx.config.collect)?;
        progress(CollectEvent::Next(next));
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return Ok(()),
        }
        // On the collection day, the figures are those of the month just ended.
        let month = Month::of(next.with_timezone(&tz).date_naive()).prev();
        if let Err(e) = collect_once(ctx, tokens, platforms, month, progress).await {
            e.log("monthly collection");
        }
    }
}
