//! Collectors: the monthly figures of the catalogue's accounts, from X (user lookup, batches
//! of 100), Bluesky (`getProfiles`, batches of 25, no auth) and Instagram (business discovery,
//! one account a request). A missing or renamed account is reported, not fatal; a platform
//! whose token is missing or refused is reported and the others go on.
//!
//! The only part of `rank/` that does I/O (HTTP, through [`crate::http`]); it returns
//! snapshots and leaves writing them to the caller.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::catalog::{Catalog, Platform};
use crate::config::{CollectConfig, SourcesConfig};
use crate::http::{self, HttpError, Retry};
use crate::model::{Month, Snapshot};

/// One account to collect: its store key and its handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The store key.
    pub key: String,
    /// The handle on the platform, without `@`.
    pub handle: String,
}

/// What a platform's collection gave.
#[derive(Debug, Default)]
pub struct Collected {
    /// Snapshots by store key.
    pub snapshots: Vec<(String, Snapshot)>,
    /// Handles the service does not know (deleted, renamed, private).
    pub missing: Vec<String>,
}

pub use crate::config::Tokens;

/// The accounts of the whole catalogue that have a handle on `platform`, once each.
pub fn targets(catalog: &Catalog, platform: Platform) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for c in catalog.categories() {
        for a in &c.accounts {
            if let Some(h) = a.handle(platform) {
                let key = a.key(platform);
                if !out.iter().any(|t| t.key == key) {
                    out.push(Target {
                        key,
                        handle: h.to_string(),
                    });
                }
            }
        }
    }
    out
}

/// Collects one platform.
pub async fn collect(
    platform: Platform,
    targets: &[Target],
    sources: &SourcesConfig,
    tokens: &Tokens,
    month: Month,
    retry: &Retry,
    done: &mut (dyn FnMut(usize) + Send),
) -> Result<Collected, CollectError> {
    match platform {
        Platform::Twitter => {
            let token = tokens
                .x
                .as_ref()
                .ok_or(CollectError::NoToken("X_BEARER_TOKEN"))?;
            Ok(x(targets, sources, token, retry, done).await?)
        }
        Platform::Bluesky => Ok(bluesky(targets, sources, retry, done).await?),
        Platform::Instagram => {
            let token = tokens
                .instagram
                .as_ref()
                .ok_or(CollectError::NoToken("INSTAGRAM_ACCESS_TOKEN"))?;
            let user = sources
                .instagram
                .user_id
                .as_deref()
                .ok_or(CollectError::NoConfig(
                    "sources.instagram.user_id (the deployment's own Instagram user id)",
                ))?;
            Ok(instagram(targets, sources, token, user, month, retry, done).await?)
        }
        Platform::Facebook => Err(CollectError::Unsupported(platform)),
    }
}

/// Why a platform could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The token is not in the environment.
    #[error("{0} is not set")]
    NoToken(&'static str),
    /// A setting is missing.
    #[error("{0} is not configured")]
    NoConfig(&'static str),
    /// No collector for this platform.
    #[error("no collector for {0} yet; import its figures with `veille import snapshots`")]
    Unsupported(Platform),
    /// The service failed.
    #[error(transparent)]
    Http(#[from] HttpError),
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

#[derive(Debug, Deserialize)]
struct XUsers {
    #[serde(default)]
    data: Vec<XUser>,
    #[serde(default)]
    errors: Vec<XError>,
}

#[derive(Debug, Deserialize)]
struct XUser {
    username: String,
    public_metrics: XMetrics,
}

#[derive(Debug, Deserialize)]
struct XMetrics {
    followers_count: u64,
    following_count: u64,
    tweet_count: u64,
}

#[derive(Debug, Deserialize)]
struct XError {
    #[serde(default)]
    value: Option<String>,
}

/// X API v2 user lookup, 100 usernames a request.
async fn x(
    targets: &[Target],
    sources: &SourcesConfig,
    token: &SecretString,
    retry: &Retry,
    done: &mut (dyn FnMut(usize) + Send),
) -> Result<Collected, HttpError> {
    let client = http::client(Duration::from_secs(sources.x.timeout_secs));
    let url = format!("{}/2/users/by", sources.x.base_url.trim_end_matches('/'));
    let mut out = Collected::default();
    for batch in targets.chunks(100) {
        let names: Vec<&str> = batch.iter().map(|t| t.handle.as_str()).collect();
        let names = names.join(",");
        let page: XUsers = http::get_json("X API", retry, || {
            client.get(&url).bearer_auth(token.expose_secret()).query(&[
                ("usernames", names.as_str()),
                ("user.fields", "public_metrics"),
            ])
        })
        .await?;
        let found: HashMap<String, &XUser> = page
            .data
            .iter()
            .map(|u| (u.username.to_lowercase(), u))
            .collect();
        for t in batch {
            match found.get(&t.handle.to_lowercase()) {
                Some(u) => out.snapshots.push((
                    t.key.clone(),
                    Snapshot {
                        followers: Some(u.public_metrics.followers_count),
                        following: Some(u.public_metrics.following_count),
                        posts_total: Some(u.public_metrics.tweet_count),
                        source: "X API v2".into(),
                        collected_at: now(),
                        ..Snapshot::default()
                    },
                )),
                None => out.missing.push(t.handle.clone()),
            }
        }
        for e in page.errors.iter().filter_map(|e| e.value.as_deref()) {
            tracing::debug!(username = e, "X does not know this account");
        }
        done(out.snapshots.len() + out.missing.len());
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct BskyProfiles {
    #[serde(default)]
    profiles: Vec<BskyProfile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BskyProfile {
    handle: String,
    #[serde(default)]
    followers_count: Option<u64>,
    #[serde(default)]
    follows_count: Option<u64>,
    #[serde(default)]
    posts_count: Option<u64>,
}

/// Bluesky `app.bsky.actor.getProfiles`, 25 actors a request, no auth.
async fn bluesky(
    targets: &[Target],
    sources: &SourcesConfig,
    retry: &Retry,
    done: &mut (dyn FnMut(usize) + Send),
) -> Result<Collected, HttpError> {
    let client = http::client(Duration::from_secs(sources.bluesky.timeout_secs));
    let url = format!(
        "{}/xrpc/app.bsky.actor.getProfiles",
        sources.bluesky.api_url.trim_end_matches('/')
    );
    let mut out = Collected::default();
    for batch in targets.chunks(25) {
        let query: Vec<(&str, &str)> = batch
            .iter()
            .map(|t| ("actors", t.handle.as_str()))
            .collect();
        let page: BskyProfiles =
            http::get_json("Bluesky", retry, || client.get(&url).query(&query)).await?;
        let found: HashMap<String, &BskyProfile> = page
            .profiles
            .iter()
            .map(|p| (p.handle.to_lowercase(), p))
            .collect();
        for t in batch {
            match found.get(&t.handle.to_lowercase()) {
                Some(p) => out.snapshots.push((
                    t.key.clone(),
                    Snapshot {
                        followers: p.followers_count,
                        following: p.follows_count,
                        posts_total: p.posts_count,
                        source: "Bluesky AppView".into(),
                        collected_at: now(),
                        ..Snapshot::default()
                    },
                )),
                None => out.missing.push(t.handle.clone()),
            }
        }
        done(out.snapshots.len() + out.missing.len());
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct IgAnswer {
    business_discovery: IgAccount,
}

#[derive(Debug, Deserialize)]
struct IgAccount {
    #[serde(default)]
    followers_count: Option<u64>,
    #[serde(default)]
    follows_count: Option<u64>,
    #[serde(default)]
    media_count: Option<u64>,
    #[serde(default)]
    media: Option<IgMedia>,
}

#[derive(Debug, Deserialize)]
struct IgMedia {
    #[serde(default)]
    data: Vec<IgPost>,
}

#[derive(Debug, Deserialize)]
struct IgPost {
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    comments_count: Option<u64>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// Instagram Graph API business discovery, one account a request. Posts and interactions of
/// the month are counted from the media's timestamps.
async fn instagram(
    targets: &[Target],
    sources: &SourcesConfig,
    token: &SecretString,
    user_id: &str,
    month: Month,
    retry: &Retry,
    done: &mut (dyn FnMut(usize) + Send),
) -> Result<Collected, HttpError> {
    let cfg = &sources.instagram;
    let client = http::client(Duration::from_secs(cfg.timeout_secs));
    let url = format!(
        "{}/{}/{}",
        cfg.base_url.trim_end_matches('/'),
        cfg.api_version,
        user_id
    );
    let mut out = Collected::default();
    for t in targets {
        let fields = format!(
            "business_discovery.username({}){{followers_count,follows_count,media_count,media{{like_count,comments_count,timestamp}}}}",
            t.handle
        );
        let answer: Result<IgAnswer, HttpError> =
            http::get_json("Instagram Graph API", retry, || {
                client.get(&url).query(&[
                    ("fields", fields.as_str()),
                    ("access_token", token.expose_secret()),
                ])
            })
            .await;
        match answer {
            Ok(a) => {
                let acc = a.business_discovery;
                let in_month: Vec<&IgPost> = acc
                    .media
                    .as_ref()
                    .map(|m| {
                        m.data
                            .iter()
                            .filter(|p| post_month(p) == Some(month))
                            .collect()
                    })
                    .unwrap_or_default();
                let interactions = in_month
                    .iter()
                    .map(|p| p.like_count.unwrap_or(0) + p.comments_count.unwrap_or(0))
                    .sum();
                out.snapshots.push((
                    t.key.clone(),
                    Snapshot {
                        followers: acc.followers_count,
                        following: acc.follows_count,
                        posts_total: acc.media_count,
                        posts_month: acc.media.is_some().then_some(in_month.len() as u64),
                        interactions_month: acc.media.is_some().then_some(interactions),
                        source: "Instagram Graph API".into(),
                        collected_at: now(),
                        ..Snapshot::default()
                    },
                ));
            }
            // The Graph API says why in its error object: only a username it cannot find is
            // a missing account; an expired token or a wrong own id stop the platform.
            Err(HttpError::Status {
                service,
                status: 400,
                body,
            }) => match http::graph_error(&body) {
                Some(g) if g.code == 190 => {
                    return Err(HttpError::Auth {
                        service,
                        status: 400,
                        detail: format!(
                            "the access token (INSTAGRAM_ACCESS_TOKEN) is expired, revoked or invalid (Graph API error 190{}): renew it (README, « Instagram ») and collect again",
                            g.error_subcode.map(|s| format!(", subcode {s}")).unwrap_or_default()
                        ),
                    })
                }
                Some(g) if g.code == 100 => {
                    return Err(HttpError::Status {
                        service,
                        status: 400,
                        body: format!(
                            "sources.instagram.user_id ({user_id}) is not a professional Instagram account this token can read (Graph API error 100: {}); set VEILLE_SOURCES__INSTAGRAM__USER_ID to your account's numeric id",
                            g.message
                        ),
                    })
                }
                Some(g) if g.code == 110 || g.error_subcode == Some(2207013) => {
                    out.missing.push(t.handle.clone())
                }
                _ => {
                    return Err(HttpError::Status {
                        service,
                        status: 400,
                        body,
                    })
                }
            },
            Err(e) => return Err(e),
        }
        done(out.snapshots.len() + out.missing.len());
    }
    Ok(out)
}

/// The month of an Instagram timestamp (`2021-06-30T18:00:00+0000`), in UTC.
fn post_month(p: &IgPost) -> Option<Month> {
    let ts = p.timestamp.as_deref()?;
    let dt = DateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(ts))
        .ok()?;
    Some(Month::of(dt.with_timezone(&Utc).date_naive()))
}

/// The next scheduled collection strictly after `now`: `day` at `hour`:00 local time.
pub fn next_run(now: DateTime<Utc>, cfg: &CollectConfig) -> anyhow::Result<DateTime<Utc>> {
    let tz: chrono_tz::Tz = cfg
        .timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("{:?} is not a time zone", cfg.timezone))?;
    let local = now.with_timezone(&tz).date_naive();
    let mut month = Month::of(local);
    for _ in 0..3 {
        let date = NaiveDate::from_ymd_opt(month.year, month.month, cfg.day)
            .ok_or_else(|| anyhow::anyhow!("bad collect.day"))?;
        let at = date
            .and_hms_opt(cfg.hour, 0, 0)
            .ok_or_else(|| anyhow::anyhow!("bad collect.hour"))?;
        // A local hour skipped by a DST change runs at the first instant after it.
        let when = tz.from_local_datetime(&at).earliest().or_else(|| {
            tz.from_local_datetime(&(at + chrono::Duration::hours(1)))
                .earliest()
        });
        if let Some(when) = when.map(|w| w.with_timezone(&Utc)) {
            if when > now {
                return Ok(when);
            }
        }
        month = month.next();
    }
    anyhow::bail!("no collection time found")
}

#[cfg(test)]
mod tests;
