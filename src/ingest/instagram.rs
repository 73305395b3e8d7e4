//! The comments under the team's own Instagram posts: with `[sources.instagram]`
//! `comments_entity`, the own account's newest posts (`/{ig-user-id}/media`) and their
//! comments (`/{media-id}/comments`, following `paging.next`) are read every
//! `comments_poll_interval_secs`. Each comment is a post about that watched name, named or
//! not (it is under its post): platform `instagram`, its link the post's permalink, its
//! author the commenter, its likes as engagement; counted once (its id).
//!
//! The Graph API's errors as `collect` reads them: 190 (the token expired) and 100 (the own
//! account's id is wrong) stop the source with what to do, 10 names the missing permission;
//! the rate limits (codes 4, 17 and 32) and passing trouble wait for the next poll, with
//! backoff. The token travels in the query string, as the Graph API wants: no URL is logged.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::pipeline::{set_state, LiveSources, SourceState};
use super::source::{self, SourceBatch};
use crate::config::InstagramConfig;
use crate::http::{self, Backoff, HttpError, Retry};
use crate::model::{Post, PostMetrics};

/// The platform of comments.
pub const PLATFORM: &str = "instagram";

/// The source's name in reports and `/status`, and its key.
pub const SOURCE_NAME: &str = "Instagram comments";

/// The source's key in the store and in counts of bad inputs.
pub const SOURCE: &str = "instagram:comments";

/// Comment pages read under one post at the most (50 comments a page).
const MAX_PAGES: usize = 20;

#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

/// One of the own account's posts.
#[derive(Debug, Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    permalink: Option<String>,
}

/// A comment, as the Graph API gives it.
#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    like_count: u64,
}

/// An Instagram timestamp (`2025-06-03T08:00:00+0000`).
fn time(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(ts))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Why a read of the comments stopped.
#[derive(Debug, thiserror::Error)]
pub enum CommentsError {
    /// What the deployer must fix (the token, the account id, a permission): the source
    /// stops.
    #[error("{0}")]
    Fatal(String),
    /// Rate limits and passing trouble: the next poll tries again.
    #[error("{0}")]
    Transient(String),
}

/// The comments source.
pub struct Comments {
    cfg: InstagramConfig,
    client: reqwest::Client,
    token: SecretString,
    user_id: String,
    entity: String,
    retry: Retry,
    live: Option<std::sync::Arc<std::sync::Mutex<LiveSources>>>,
}

impl Comments {
    /// Over the deployment's own account, its comments about `entity`.
    pub fn new(
        cfg: &InstagramConfig,
        token: SecretString,
        user_id: String,
        entity: String,
        retry: Retry,
    ) -> Comments {
        Comments {
            client: http::client(Duration::from_secs(cfg.timeout_secs.max(1))),
            cfg: cfg.clone(),
            token,
            user_id,
            entity,
            retry,
            live: None,
        }
    }

    /// Says in `live` how it stands while it runs.
    pub fn with_live(mut self, live: std::sync::Arc<std::sync::Mutex<LiveSources>>) -> Comments {
        self.live = Some(live);
        self
    }

    fn base(&self) -> String {
        format!(
            "{}/{}",
            self.cfg.base_url.trim_end_matches('/'),
            self.cfg.api_version
        )
    }

    /// One GET of the Graph API; `url` already carries every parameter but the token when
    /// `with_token`, else is a `paging.next` address, which carries it.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        with_token: bool,
    ) -> Result<T, CommentsError> {
        let answer = http::get_json("Instagram Graph API", &self.retry, || {
            let req = self.client.get(url);
            if with_token {
                req.query(&[("access_token", self.token.expose_secret())])
            } else {
                req
            }
        })
        .await;
        answer.map_err(|e| self.explain(e))
    }

    /// A failed request as the deployer reads it.
    fn explain(&self, e: HttpError) -> CommentsError {
        let body = match &e {
            HttpError::Status { body, .. } => Some(body.as_str()),
            HttpError::Auth { detail, .. } => Some(detail.as_str()),
            _ => None,
        };
        match body.and_then(http::graph_error) {
            Some(g) if g.code == 190 => CommentsError::Fatal(
                "the access token (INSTAGRAM_ACCESS_TOKEN) is expired, revoked or invalid (Graph API error 190): renew it (README, « Instagram »)".into(),
            ),
            Some(g) if g.code == 100 => CommentsError::Fatal(format!(
                "sources.instagram.user_id ({}) is not a professional Instagram account this token can read (Graph API error 100: {})",
                self.user_id, g.message
            )),
            Some(g) if g.code == 10 => CommentsError::Fatal(
                "the access token lacks instagram_manage_comments (Graph API error 10): add it to read the comments".into(),
            ),
            Some(g) if matches!(g.code, 4 | 17 | 32) => CommentsError::Transient(format!(
                "the Graph API's rate limit (error {}): next poll later",
                g.code
            )),
            _ if matches!(e, HttpError::Auth { .. }) => CommentsError::Fatal(e.to_string()),
            _ => CommentsError::Transient(e.to_string()),
        }
    }

    /// Reads the comments under the newest posts once, a batch a post; returns how many
    /// comments were read.
    pub async fn poll_once(
        &self,
        tx: &source::Sender,
        cancel: &CancellationToken,
    ) -> Result<usize, CommentsError> {
        let media_url = format!(
            "{}/{}/media?fields=id,permalink,timestamp,comments_count,like_count&limit={}",
            self.base(),
            self.user_id,
            self.cfg.comments_media.clamp(1, 100)
        );
        let media: Page<Media> = self.get(&media_url, true).await?;
        let mut read = 0;
        for m in media.data {
            let mut batch = SourceBatch {
                source: SOURCE.into(),
                ..SourceBatch::default()
            };
            let mut next = Some(format!(
                "{}/{}/comments?fields=id,text,timestamp,username,like_count&limit=50",
                self.base(),
                m.id
            ));
            let mut first = true;
            let mut pages = 0;
            while let Some(url) = next.take() {
                let page: Page<Comment> = self.get(&url, first).await?;
                first = false;
                pages += 1;
                for c in page.data {
                    let Some(created_at) = c.timestamp.as_deref().and_then(time) else {
                        batch.bad.push(super::file::Bad {
                            kind: "comment without a readable time",
                            detail: c.id,
                        });
                        continue;
                    };
                    batch.posts.push(Post {
                        platform: PLATFORM.into(),
                        id: c.id,
                        original_id: None,
                        text: c.text,
                        created_at,
                        author: c.username,
                        lang: None,
                        url: m.permalink.clone(),
                        metrics: Some(PostMetrics {
                            likes: c.like_count,
                            ..PostMetrics::default()
                        }),
                        about: Some(self.entity.clone()),
                    });
                }
                if pages < MAX_PAGES {
                    next = page.paging.and_then(|p| p.next);
                }
            }
            read += batch.posts.len();
            if !batch.is_empty() && !source::send(tx, cancel, batch).await {
                break;
            }
        }
        Ok(read)
    }

    /// Polls until cancelled; a fatal error stops it.
    pub async fn run(self, tx: source::Sender, cancel: CancellationToken) -> anyhow::Result<()> {
        let interval = Duration::from_secs(self.cfg.comments_poll_interval_secs.max(60));
        let mut backoff = Backoff::new(interval, interval * 8);
        let mut failing: Option<String> = None;
        loop {
            let polled = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.poll_once(&tx, &cancel) => r,
            };
            let wait = match polled {
                Ok(n) => {
                    set_state(self.live.as_deref(), SOURCE_NAME, SourceState::Running);
                    if failing.take().is_some() {
                        tracing::info!(comments = n, "the Instagram comments read again");
                    }
                    backoff.reset();
                    interval
                }
                Err(CommentsError::Fatal(why)) => return Err(anyhow::anyhow!(why)),
                Err(CommentsError::Transient(why)) => {
                    let state = SourceState::failing(why.clone());
                    set_state(self.live.as_deref(), SOURCE_NAME, state);
                    if failing.as_deref() != Some(why.as_str()) {
                        tracing::warn!(error = %why, "the Instagram comments cannot be read now (logged once while it lasts)");
                    }
                    failing = Some(why);
                    backoff.next_wait()
                }
            };
            if cancel.is_cancelled() || !source::sleep(&cancel, wait).await {
                return Ok(());
            }
        }
    }
}
