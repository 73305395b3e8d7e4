//! X API v2 sources: recent search polling and the filtered stream.
//!
//! Queries come from the watched names (plain names quoted, `@handles`, `#hashtags`; an
//! ambiguous name only through its handles and hashtags, X would otherwise bill every "nice"
//! of the day), split so that each stays under X's 512 characters, and exclude retweets (a
//! retweet counts as its original anyway). Recent search resumes from a `since_id` cursor per
//! query; the stream's rules are kept in sync with the same queries.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::file::Bad;
use super::source::{self, SourceBatch};
use super::xwire;
use crate::config::XConfig;
use crate::http::{self, HttpError, Retry};
use crate::model::EntitySpec;

/// X's limit on a recent-search query.
pub const MAX_QUERY_LEN: usize = 512;
const SUFFIX: &str = " -is:retweet";
const TWEET_FIELDS: &str = "created_at,public_metrics,author_id,lang,referenced_tweets";

/// The search terms of the watched names.
fn terms(entities: &[EntitySpec]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in entities {
        for alias in std::iter::once(&e.name).chain(&e.aliases) {
            let a = alias.trim();
            let term = if a.starts_with('@') || a.starts_with('#') {
                a.to_string()
            } else if e.ambiguous {
                continue;
            } else if a.contains(char::is_whitespace) || a.contains('-') {
                format!("\"{}\"", a.replace('"', ""))
            } else {
                a.to_string()
            };
            if !term.is_empty() && !out.iter().any(|t| t.eq_ignore_ascii_case(&term)) {
                out.push(term);
            }
        }
    }
    out
}

/// Recent-search queries for the watched names, each at most [`MAX_QUERY_LEN`] characters.
pub fn build_queries(entities: &[EntitySpec]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let len = |terms: &[String]| {
        terms.iter().map(|t| t.len()).sum::<usize>()
            + 4 * terms.len().saturating_sub(1)
            + 2
            + SUFFIX.len()
    };
    for t in terms(entities) {
        current.push(t);
        if len(&current) > MAX_QUERY_LEN && current.len() > 1 {
            let last = current.pop().expect("two terms at least");
            out.push(format!("({}){SUFFIX}", current.join(" OR ")));
            current = vec![last];
        }
    }
    if !current.is_empty() {
        out.push(format!("({}){SUFFIX}", current.join(" OR ")));
    }
    out.retain(|q| q.len() <= MAX_QUERY_LEN);
    out
}

/// The cursor key of a query: stable while the query does not change.
pub fn query_key(query: &str) -> String {
    format!("x-search:{:016x}", crate::store::dedup_hash(query))
}

/// Recent search polling.
pub struct Search {
    cfg: XConfig,
    token: SecretString,
    client: reqwest::Client,
    retry: Retry,
    /// Query and its `since_id`.
    queries: Vec<(String, Option<String>)>,
}

impl Search {
    /// A poller for `queries`, resuming from `cursors` (query key → since_id).
    pub fn new(
        cfg: &XConfig,
        token: SecretString,
        queries: Vec<String>,
        cursors: &HashMap<String, String>,
        retry: Retry,
    ) -> Search {
        Search {
            client: http::client(Duration::from_secs(cfg.timeout_secs)),
            cfg: cfg.clone(),
            token,
            retry,
            queries: queries
                .into_iter()
                .map(|q| {
                    let since = cursors.get(&query_key(&q)).cloned();
                    (q, since)
                })
                .collect(),
        }
    }

    /// Polls every query once, following `next_token` up to `max_pages` pages; sends the
    /// posts, then the new `since_id` as the last batch's cursor. Only 401/403 are errors.
    pub async fn poll_once(
        &mut self,
        tx: &source::Sender,
        cancel: &CancellationToken,
    ) -> Result<(), HttpError> {
        let Search {
            cfg,
            token,
            client,
            retry,
            queries,
        } = self;
        let url = format!(
            "{}/2/tweets/search/recent",
            cfg.base_url.trim_end_matches('/')
        );
        for (query, since) in queries.iter_mut() {
            let key = query_key(query);
            let mut next_token: Option<String> = None;
            let mut newest: Option<String> = None;
            // `since_id` moves only once the pages of this poll were all read: a failure on
            // page N leaves it where it was, and the next poll reads pages 1..N again (the
            // posts already stored are deduplicated) instead of skipping N and beyond.
            let mut complete = false;
            let start_time = (chrono::Utc::now()
                - chrono::Duration::minutes(cfg.lookback_minutes as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let max_pages = cfg.max_pages.max(1);
            for page_no in 1..=max_pages {
                let mut params: Vec<(&str, String)> = vec![
                    ("query", query.clone()),
                    ("max_results", "100".into()),
                    ("tweet.fields", TWEET_FIELDS.into()),
                    ("expansions", "author_id".into()),
                    ("user.fields", "username,public_metrics".into()),
                ];
                match since.as_ref() {
                    Some(s) => params.push(("since_id", s.clone())),
                    None => params.push(("start_time", start_time.clone())),
                }
                if let Some(t) = &next_token {
                    params.push(("next_token", t.clone()));
                }
                let page: Result<xwire::Page, HttpError> = http::get_json("X API", retry, || {
                    client
                        .get(&url)
                        .bearer_auth(token.expose_secret())
                        .query(&params)
                })
                .await;
                let page = match page {
                    Ok(p) => p,
                    Err(e @ HttpError::Auth { .. }) => return Err(e),
                    Err(e) => {
                        // Transient failures were retried already; try again at the next poll.
                        tracing::warn!(error = %e, "recent search failed; next poll will retry");
                        break;
                    }
                };
                if newest.is_none() {
                    newest = page.meta.newest_id.clone();
                }
                let (posts, bad) = split(page.posts());
                // Follow the token, not the count: a short page may still have a next one.
                next_token = page.meta.next_token.clone();
                // The page cap is deliberate (X bills every post read): past it, the older
                // posts of this poll are skipped, and said so.
                if next_token.is_some() && page_no == max_pages {
                    tracing::warn!(
                        max_pages,
                        "recent search: more pages than sources.x.max_pages; older posts of this poll skipped"
                    );
                    next_token = None;
                }
                let last = next_token.is_none();
                let batch = SourceBatch {
                    source: key.clone(),
                    posts,
                    bad,
                    cursor: if last { newest.clone() } else { None },
                    ..SourceBatch::default()
                };
                if !source::send(tx, cancel, batch).await {
                    return Ok(());
                }
                if last {
                    complete = true;
                    break;
                }
            }
            if let (true, Some(n)) = (complete, newest) {
                *since = Some(n);
            }
        }
        Ok(())
    }

    /// Polls every `poll_interval` until cancelled; stops on 401/403.
    pub async fn run(
        mut self,
        tx: source::Sender,
        cancel: CancellationToken,
    ) -> Result<(), HttpError> {
        loop {
            self.poll_once(&tx, &cancel).await?;
            if !source::sleep(&cancel, self.cfg.poll_interval()).await {
                return Ok(());
            }
        }
    }
}

fn split(items: Vec<Result<crate::model::Post, String>>) -> (Vec<crate::model::Post>, Vec<Bad>) {
    let mut posts = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for item in items {
        match item {
            Ok(p) => posts.push(p),
            Err(detail) => bad.push(Bad {
                kind: "malformed tweet",
                detail,
            }),
        }
    }
    (posts, bad)
}

#[derive(Debug, Deserialize)]
struct Rules {
    #[serde(default)]
    data: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    id: String,
    value: String,
}

/// The filtered stream.
pub struct Stream {
    cfg: XConfig,
    token: SecretString,
    client: reqwest::Client,
    retry: Retry,
    queries: Vec<String>,
}

/// The stream's source name.
pub const STREAM_SOURCE: &str = "x-stream";

impl Stream {
    /// A stream whose rules will be `queries`.
    pub fn new(cfg: &XConfig, token: SecretString, queries: Vec<String>, retry: Retry) -> Stream {
        Stream {
            // No overall timeout on a stream: keep-alives arrive every 20 s or so.
            client: reqwest::Client::builder()
                .user_agent(concat!("veille/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(cfg.timeout_secs))
                .build()
                .expect("a client with a connect timeout builds"),
            cfg: cfg.clone(),
            token,
            retry,
            queries,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/2/tweets/search/stream{path}",
            self.cfg.base_url.trim_end_matches('/')
        )
    }

    /// Makes the stream's rules exactly the queries: deletes the others, adds the missing.
    pub async fn sync_rules(&self) -> Result<(), HttpError> {
        let rules: Rules = http::get_json("X API", &self.retry, || {
            self.client
                .get(self.url("/rules"))
                .bearer_auth(self.token.expose_secret())
        })
        .await?;
        let stale: Vec<&str> = rules
            .data
            .iter()
            .filter(|r| !self.queries.contains(&r.value))
            .map(|r| r.id.as_str())
            .collect();
        if !stale.is_empty() {
            self.post_rules(&serde_json::json!({"delete": {"ids": stale}}))
                .await?;
        }
        let missing: Vec<serde_json::Value> = self
            .queries
            .iter()
            .filter(|q| !rules.data.iter().any(|r| &r.value == *q))
            .map(|q| serde_json::json!({"value": q, "tag": "veille"}))
            .collect();
        if !missing.is_empty() {
            self.post_rules(&serde_json::json!({ "add": missing }))
                .await?;
        }
        Ok(())
    }

    /// Adds or deletes rules (`{"add": […]}` or `{"delete": {"ids": […]}}`).
    async fn post_rules(&self, body: &serde_json::Value) -> Result<(), HttpError> {
        http::send("X API", &self.retry, || {
            self.client
                .post(self.url("/rules"))
                .bearer_auth(self.token.expose_secret())
                .json(body)
        })
        .await?;
        Ok(())
    }

    /// Syncs the rules, then reads the stream until cancelled, reconnecting with backoff when
    /// it drops; stops on 401/403.
    pub async fn run(self, tx: source::Sender, cancel: CancellationToken) -> Result<(), HttpError> {
        self.sync_rules().await?;
        // Reconnections back off as the requests do (1 s to 64 s by default).
        let mut backoff = self.retry.backoff();
        loop {
            let params = [
                ("tweet.fields", TWEET_FIELDS),
                ("expansions", "author_id"),
                ("user.fields", "username"),
            ];
            let connected = http::send("X API", &self.retry, || {
                self.client
                    .get(self.url(""))
                    .bearer_auth(self.token.expose_secret())
                    .query(&params)
            })
            .await;
            match connected {
                Ok(resp) => {
                    backoff.reset();
                    if !read_stream(resp, &tx, &cancel).await {
                        return Ok(());
                    }
                    tracing::warn!("the X stream dropped; reconnecting");
                }
                Err(e @ HttpError::Auth { .. }) => return Err(e),
                Err(e) => tracing::warn!(error = %e, "cannot connect to the X stream; backing off"),
            }
            if !source::sleep(&cancel, backoff.next_wait()).await {
                return Ok(());
            }
        }
    }
}

/// Reads newline-delimited JSON until the connection drops (true) or the pipeline stops
/// (false). Blank lines are keep-alives.
async fn read_stream(
    mut resp: reqwest::Response,
    tx: &source::Sender,
    cancel: &CancellationToken,
) -> bool {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return false,
            c = resp.chunk() => c,
        };
        let chunk = match chunk {
            Ok(Some(c)) => c,
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "X stream read failed");
                return true;
            }
        };
        buf.extend_from_slice(&chunk);
        let mut batch = SourceBatch {
            source: STREAM_SOURCE.into(),
            ..SourceBatch::default()
        };
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let line = line.trim_ascii();
            if line.is_empty() {
                continue; // keep-alive
            }
            match serde_json::from_slice::<StreamLine>(line) {
                Ok(l) => {
                    let users: HashMap<&str, &str> = l
                        .includes
                        .users
                        .iter()
                        .map(|u| (u.id.as_str(), u.username.as_str()))
                        .collect();
                    match xwire::tweet_to_post(&l.data, &users) {
                        Ok(p) => batch.posts.push(p),
                        Err(detail) => batch.bad.push(Bad {
                            kind: "malformed tweet",
                            detail,
                        }),
                    }
                }
                Err(e) => batch.bad.push(Bad {
                    kind: "not a stream line",
                    detail: e.to_string(),
                }),
            }
        }
        if (!batch.posts.is_empty() || !batch.bad.is_empty())
            && !source::send(tx, cancel, batch).await
        {
            return false;
        }
    }
}

#[derive(Debug, Deserialize)]
struct StreamLine {
    data: serde_json::Value,
    #[serde(default)]
    includes: xwire::Includes,
}

#[cfg(test)]
mod tests;
