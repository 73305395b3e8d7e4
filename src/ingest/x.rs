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
use super::pipeline::{set_state, LiveSources, SourceState};
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

/// The service X's reads are counted under in the store.
pub const SERVICE: &str = "x";

/// What X's reads cost today, for `/status` and reports.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bill {
    /// Posts read today (UTC), search and stream together.
    pub read: u64,
    /// The cap per day.
    pub max: u64,
    /// Their estimated cost, in US dollars.
    pub cost: f64,
    /// Whether X is paused until the next UTC day.
    pub paused: bool,
}

/// X's daily budget of posts read, shared by recent search and the stream: the sources ask
/// it how many they may still read, and tell it what they read. Counted from what the store
/// says was read today, so a restart does not reset it. One warning at 80 % of the cap; at
/// the cap X pauses until the next UTC day, said once.
#[derive(Debug)]
pub struct Budget {
    max: u64,
    price: f64,
    state: std::sync::Mutex<BudgetState>,
    live: Option<std::sync::Arc<std::sync::Mutex<super::pipeline::LiveSources>>>,
}

#[derive(Debug)]
struct BudgetState {
    day: i64,
    read: u64,
    warned: bool,
    paused_said: bool,
}

/// Today, in UTC days since the epoch.
fn today() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(86_400)
}

impl Budget {
    /// The budget of `cfg`, `read_today` posts read already.
    pub fn new(
        cfg: &XConfig,
        read_today: u64,
        live: Option<std::sync::Arc<std::sync::Mutex<super::pipeline::LiveSources>>>,
    ) -> Budget {
        let b = Budget {
            max: cfg.max_reads_per_day,
            price: cfg.price_per_read,
            state: std::sync::Mutex::new(BudgetState {
                day: today(),
                read: read_today,
                warned: false,
                paused_said: false,
            }),
            live,
        };
        b.publish();
        b
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let day = today();
        if s.day != day {
            *s = BudgetState {
                day,
                read: 0,
                warned: false,
                paused_said: false,
            };
        }
        s
    }

    /// Posts that may still be read today.
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.lock().read)
    }

    /// Counts `n` posts read.
    pub fn spend(&self, n: u64) {
        {
            let mut s = self.lock();
            s.read += n;
            if !s.warned && s.read * 5 >= self.max * 4 && s.read < self.max {
                s.warned = true;
                tracing::warn!(
                    read = s.read,
                    max = self.max,
                    "X: 80% of today's reads are spent (sources.x.max_reads_per_day)"
                );
            }
            if s.read >= self.max && !s.paused_said {
                s.paused_said = true;
                tracing::warn!(
                    read = s.read,
                    max = self.max,
                    "X: today's reads are spent; X pauses until the next UTC day (sources.x.max_reads_per_day)"
                );
            }
        }
        self.publish();
    }

    /// Today's reads and their cost.
    pub fn bill(&self) -> Bill {
        let s = self.lock();
        Bill {
            read: s.read,
            max: self.max,
            cost: s.read as f64 * self.price,
            paused: s.read >= self.max,
        }
    }

    fn publish(&self) {
        let bill = self.bill();
        if let Some(Ok(mut l)) = self.live.as_ref().map(|l| l.lock()) {
            l.x_bill = Some(bill);
        }
    }

    /// What `/status` says of a source that waits for tomorrow's budget.
    pub fn paused_state(&self) -> SourceState {
        SourceState::Paused {
            why: format!(
                "{} posts read today, the cap (sources.x.max_reads_per_day): back at midnight UTC",
                self.bill().read
            ),
        }
    }

    /// How long until the next UTC day.
    pub fn until_tomorrow() -> Duration {
        let now = chrono::Utc::now().timestamp();
        Duration::from_secs(((now.div_euclid(86_400) + 1) * 86_400 - now).max(1) as u64)
    }
}

/// Recent search polling.
pub struct Search {
    cfg: XConfig,
    token: SecretString,
    client: reqwest::Client,
    retry: Retry,
    /// Query and its `since_id`.
    queries: Vec<(String, Option<String>)>,
    budget: std::sync::Arc<Budget>,
    live: Option<std::sync::Arc<std::sync::Mutex<LiveSources>>>,
    updates: Option<tokio::sync::watch::Receiver<Vec<String>>>,
}

/// Recent search's name in reports and `/status`.
pub const SEARCH_NAME: &str = "X recent search";

/// The stream's name in reports and `/status`.
pub const STREAM_NAME: &str = "X filtered stream";

impl Search {
    /// A poller for `queries`, resuming from `cursors` (query key → since_id).
    pub fn new(
        cfg: &XConfig,
        token: SecretString,
        queries: Vec<String>,
        cursors: &HashMap<String, String>,
        retry: Retry,
        budget: std::sync::Arc<Budget>,
    ) -> Search {
        Search {
            budget,
            live: None,
            updates: None,
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

    /// Says in `live` how it stands while it runs.
    pub fn with_live(mut self, live: std::sync::Arc<std::sync::Mutex<LiveSources>>) -> Search {
        self.live = Some(live);
        self
    }

    /// Reads its queries from `updates` at each poll (the watched names changed): a query
    /// kept keeps its `since_id`, a new one looks back `lookback_minutes`.
    pub fn with_updates(
        mut self,
        updates: Option<tokio::sync::watch::Receiver<Vec<String>>>,
    ) -> Search {
        self.updates = updates;
        self
    }

    fn refresh_queries(&mut self) {
        let Some(rx) = self.updates.as_mut() else {
            return;
        };
        if !rx.has_changed().unwrap_or(false) {
            return;
        }
        let wanted = rx.borrow_and_update().clone();
        let old = std::mem::take(&mut self.queries);
        self.queries = wanted
            .into_iter()
            .map(|q| {
                let since = old
                    .iter()
                    .find(|(o, _)| *o == q)
                    .and_then(|(_, s)| s.clone());
                (q, since)
            })
            .collect();
        tracing::info!(
            queries = self.queries.len(),
            "X recent search follows the new watched names"
        );
    }

    /// Polls every query once, following `next_token` up to `max_pages` pages; sends the
    /// posts, then the new `since_id` as the last batch's cursor. Only 401/403 are errors.
    pub async fn poll_once(
        &mut self,
        tx: &source::Sender,
        cancel: &CancellationToken,
    ) -> Result<(), HttpError> {
        self.refresh_queries();
        let Search {
            cfg,
            token,
            client,
            retry,
            queries,
            budget,
            live,
            updates: _,
        } = self;
        let mut failed: Option<String> = None;
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
                // X bills every post read: no page past the day's budget, and the last one
                // no larger than what is left (X's smallest page is 10).
                let left = budget.remaining();
                if left == 0 {
                    set_state(live.as_deref(), SEARCH_NAME, budget.paused_state());
                    return Ok(());
                }
                let mut params: Vec<(&str, String)> = vec![
                    ("query", query.clone()),
                    ("max_results", left.clamp(10, 100).to_string()),
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
                        failed = Some(e.to_string());
                        break;
                    }
                };
                if newest.is_none() {
                    newest = page.meta.newest_id.clone();
                }
                let billed = page.data.len() as u64;
                budget.spend(billed);
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
                    billed,
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
        let state = SourceState::failing_if(failed);
        set_state(live.as_deref(), SEARCH_NAME, state);
        Ok(())
    }

    /// Polls every `poll_interval` until cancelled; stops on 401/403.
    pub async fn run(
        mut self,
        tx: source::Sender,
        cancel: CancellationToken,
    ) -> Result<(), HttpError> {
        loop {
            // A poll waits for X (and its retries): a stop must not wait for it.
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.poll_once(&tx, &cancel) => r?,
            }
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
    budget: std::sync::Arc<Budget>,
    live: Option<std::sync::Arc<std::sync::Mutex<LiveSources>>>,
    updates: Option<tokio::sync::watch::Receiver<Vec<String>>>,
}

/// The stream's source name.
pub const STREAM_SOURCE: &str = "x-stream";

impl Stream {
    /// A stream whose rules will be `queries`.
    pub fn new(
        cfg: &XConfig,
        token: SecretString,
        queries: Vec<String>,
        retry: Retry,
        budget: std::sync::Arc<Budget>,
    ) -> Stream {
        Stream {
            budget,
            live: None,
            updates: None,
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

    /// Says in `live` how it stands while it runs.
    pub fn with_live(mut self, live: std::sync::Arc<std::sync::Mutex<LiveSources>>) -> Stream {
        self.live = Some(live);
        self
    }

    /// Keeps its rules equal to the queries `updates` gives, on the open connection (X applies
    /// rule changes to a running stream: no reconnection, which X allows few of).
    pub fn with_updates(
        mut self,
        updates: Option<tokio::sync::watch::Receiver<Vec<String>>>,
    ) -> Stream {
        self.updates = updates;
        self
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/2/tweets/search/stream{path}",
            self.cfg.base_url.trim_end_matches('/')
        )
    }

    /// Makes the stream's rules exactly the queries: deletes the others, adds the missing.
    pub async fn sync_rules(&self) -> Result<(), HttpError> {
        self.sync_rules_to(&self.queries).await
    }

    /// Makes the stream's rules exactly `queries`.
    async fn sync_rules_to(&self, queries: &[String]) -> Result<(), HttpError> {
        let rules: Rules = http::get_json("X API", &self.retry, || {
            self.client
                .get(self.url("/rules"))
                .bearer_auth(self.token.expose_secret())
        })
        .await?;
        let stale: Vec<&str> = rules
            .data
            .iter()
            .filter(|r| !queries.contains(&r.value))
            .map(|r| r.id.as_str())
            .collect();
        if !stale.is_empty() {
            self.post_rules(&serde_json::json!({"delete": {"ids": stale}}))
                .await?;
        }
        let missing: Vec<serde_json::Value> = queries
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
    pub async fn run(
        mut self,
        tx: source::Sender,
        cancel: CancellationToken,
    ) -> Result<(), HttpError> {
        self.sync_rules().await?;
        let updates = self.updates.take();
        let this = &self;
        // The rules follow the watched names on their own, the connection stays open.
        let follow = async move {
            let Some(mut rx) = updates else {
                return std::future::pending::<()>().await;
            };
            while rx.changed().await.is_ok() {
                let queries = rx.borrow_and_update().clone();
                match this.sync_rules_to(&queries).await {
                    Ok(()) => tracing::info!(
                        rules = queries.len(),
                        "the X stream's rules follow the new watched names"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "updating the X stream's rules failed; the next change tries again")
                    }
                }
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            r = this.connect_and_read(tx, cancel) => r,
            _ = follow => Ok(()),
        }
    }

    /// Reads the stream until cancelled, reconnecting with backoff when it drops.
    async fn connect_and_read(
        &self,
        tx: source::Sender,
        cancel: CancellationToken,
    ) -> Result<(), HttpError> {
        // Reconnections back off as the requests do (1 s to 64 s by default).
        let mut backoff = self.retry.backoff();
        loop {
            if self.budget.remaining() == 0 {
                // Today's reads are spent: connect again tomorrow (UTC).
                set_state(
                    self.live.as_deref(),
                    STREAM_NAME,
                    self.budget.paused_state(),
                );
                if !source::sleep(&cancel, Budget::until_tomorrow()).await {
                    return Ok(());
                }
                continue;
            }
            let params = [
                ("tweet.fields", TWEET_FIELDS),
                ("expansions", "author_id"),
                ("user.fields", "username"),
            ];
            // Connecting waits for X's first answer: a stop must not wait for it.
            let connected = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                c = http::send("X API", &self.retry, || {
                    self.client
                        .get(self.url(""))
                        .bearer_auth(self.token.expose_secret())
                        .query(&params)
                }) => c,
            };
            match connected {
                Ok(resp) => {
                    backoff.reset();
                    set_state(self.live.as_deref(), STREAM_NAME, SourceState::Running);
                    match read_stream(resp, &tx, &cancel, &self.budget).await {
                        Read::Stopped => return Ok(()),
                        Read::Spent => {
                            tracing::info!(
                                "the X stream is closed until tomorrow: today's reads are spent"
                            );
                            continue;
                        }
                        Read::Dropped => tracing::warn!("the X stream dropped; reconnecting"),
                    }
                }
                Err(e @ HttpError::Auth { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to the X stream; backing off");
                    set_state(
                        self.live.as_deref(),
                        STREAM_NAME,
                        SourceState::failing(e.to_string()),
                    );
                }
            }
            if !source::sleep(&cancel, backoff.next_wait()).await {
                return Ok(());
            }
        }
    }
}

/// How a stream connection ended.
enum Read {
    /// The pipeline stops.
    Stopped,
    /// The connection dropped.
    Dropped,
    /// Today's reads are spent: the connection is closed.
    Spent,
}

/// Reads newline-delimited JSON until the connection drops, the day's reads are spent or the
/// pipeline stops. Blank lines are keep-alives.
async fn read_stream(
    mut resp: reqwest::Response,
    tx: &source::Sender,
    cancel: &CancellationToken,
    budget: &Budget,
) -> Read {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return Read::Stopped,
            c = resp.chunk() => c,
        };
        let chunk = match chunk {
            Ok(Some(c)) => c,
            Ok(None) => return Read::Dropped,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "X stream read failed");
                return Read::Dropped;
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
                    batch.billed += 1;
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
        budget.spend(batch.billed);
        if !batch.is_empty() && !source::send(tx, cancel, batch).await {
            return Read::Stopped;
        }
        if budget.remaining() == 0 {
            return Read::Spent;
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
