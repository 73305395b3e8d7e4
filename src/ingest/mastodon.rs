//! Mastodon instances: the public timeline of each instance in `[sources.mastodon]`, live over
//! the streaming API (a WebSocket), caught up through the REST timeline at each connection.
//!
//! - `update` events are posts (platform `mastodon`, keyed by the status `uri`, which is the
//!   same on every instance: a status seen on two instances, or a reblog of it, counts
//!   once); the HTML content becomes text, a content warning (`spoiler_text`) stays in front
//!   of it; favourites, reblogs and replies are the metrics.
//! - `delete` events remove the text of a kept post whose status this connection brought
//!   (its counts stay).
//! - At each (re)connection the REST timeline is read from the newest status stored for that
//!   instance (`min_id`, paging until caught up), so a disconnection loses nothing; the
//!   overlap with the stream is deduplicated downstream.
//! - `MASTODON_ACCESS_TOKEN`, when set, goes in the `Authorization` header of every request
//!   and of the WebSocket's handshake: never in a URL, a log or the store.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::file::Bad;
use super::html;
use super::pipeline::{set_state, LiveSources, SourceState};
use super::source::{self, SourceBatch, StreamEnd};
use crate::config::MastodonConfig;
use crate::http::{self, Backoff, HttpError, Retry};
use crate::model::{Post, PostMetrics};

/// The platform of Mastodon posts.
pub const PLATFORM: &str = "mastodon";

/// An instance's cursor key in the store: the newest status id read there.
pub fn source_key(instance: &str) -> String {
    format!("mastodon:{}", instance.trim_end_matches('/'))
}

/// An instance's name in reports and `/status`.
pub fn source_name(instance: &str) -> String {
    let host = reqwest::Url::parse(instance)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_else(|| instance.to_string());
    format!("Mastodon {host}")
}

/// Statuses a REST page holds at the most.
const PAGE: usize = 40;

/// Posts a batch at most, and how long a batch waits for more.
const BATCH_POSTS: usize = 500;
const BATCH_WAIT: Duration = Duration::from_millis(500);

/// Statuses of this connection remembered for their `delete` events.
const REMEMBERED: usize = 10_000;

/// A status, as the REST API and the streaming payloads give it.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// The instance's id (digits, growing).
    pub id: String,
    /// The global identifier.
    pub uri: String,
    /// Its web page.
    #[serde(default)]
    pub url: Option<String>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// Its HTML.
    #[serde(default)]
    pub content: String,
    /// Its content warning.
    #[serde(default)]
    pub spoiler_text: String,
    /// Its language.
    #[serde(default)]
    pub language: Option<String>,
    /// Who posted it.
    pub account: Account,
    /// The status it reblogs.
    #[serde(default)]
    pub reblog: Option<Box<Status>>,
    /// Favourites.
    #[serde(default)]
    pub favourites_count: u64,
    /// Reblogs.
    #[serde(default)]
    pub reblogs_count: u64,
    /// Replies.
    #[serde(default)]
    pub replies_count: u64,
}

/// An account.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// `user` on its instance, `user@domain` elsewhere.
    pub acct: String,
}

impl Status {
    /// The post it is: a reblog is its original.
    pub fn post(&self) -> Post {
        let s = self.reblog.as_deref().unwrap_or(self);
        let content = html::to_text(&s.content);
        let text = if s.spoiler_text.trim().is_empty() {
            content
        } else {
            format!("{}\n{content}", s.spoiler_text.trim())
        };
        Post {
            platform: PLATFORM.into(),
            id: s.uri.clone(),
            original_id: None,
            text,
            created_at: s.created_at,
            author: Some(s.account.acct.clone()),
            lang: s.language.clone(),
            url: s.url.clone().or_else(|| Some(s.uri.clone())),
            metrics: Some(PostMetrics {
                likes: s.favourites_count,
                replies: s.replies_count,
                reposts: s.reblogs_count,
                quotes: 0,
            }),
            about: None,
        }
    }
}

/// Which of two status ids is the newer (ids are digits: longer is newer).
fn newer<'a>(a: &'a str, b: &'a str) -> &'a str {
    if (a.len(), a) >= (b.len(), b) {
        a
    } else {
        b
    }
}

/// What one streaming message is.
#[derive(Debug)]
pub enum Event {
    /// A status.
    Update(Box<Status>),
    /// A status deleted: its id.
    Delete(String),
    /// Another event (an edit, a notification…).
    Other,
    /// Not an event.
    Bad(Bad),
}

#[derive(Deserialize)]
struct Message_ {
    event: String,
    #[serde(default)]
    payload: Option<String>,
}

/// Reads one streaming message.
pub fn parse_event(text: &str) -> Event {
    let m: Message_ = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            let kind = if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                "not an event"
            } else {
                "not JSON"
            };
            return Event::Bad(Bad {
                kind,
                detail: e.to_string(),
            });
        }
    };
    match (m.event.as_str(), m.payload) {
        ("update", Some(p)) => match serde_json::from_str::<Status>(&p) {
            Ok(s) => Event::Update(Box::new(s)),
            Err(e) => Event::Bad(Bad {
                kind: "status not readable",
                detail: e.to_string(),
            }),
        },
        ("delete", Some(id)) => Event::Delete(id),
        _ => Event::Other,
    }
}

/// One instance followed: its REST and streaming addresses, and the token.
struct Instance {
    base: String,
    name: String,
    client: reqwest::Client,
    token: Option<SecretString>,
    retry: Retry,
}

impl Instance {
    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        match &self.token {
            Some(t) => req.bearer_auth(t.expose_secret()),
            None => req,
        }
    }

    /// The streaming server's base (`configuration.urls.streaming` of `/api/v2/instance`),
    /// else the instance's own address as a WebSocket one.
    async fn streaming_base(&self) -> String {
        #[derive(Deserialize)]
        struct Info {
            configuration: Option<Configuration>,
        }
        #[derive(Deserialize)]
        struct Configuration {
            urls: Option<Urls>,
        }
        #[derive(Deserialize)]
        struct Urls {
            streaming: Option<String>,
        }
        let url = format!("{}/api/v2/instance", self.base);
        let found = http::get_json::<Info>(&self.name, &self.retry, || self.get(&url))
            .await
            .ok()
            .and_then(|i| i.configuration?.urls?.streaming);
        found.unwrap_or_else(|| {
            self.base
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        })
    }

    /// Reads the public timeline from `min_id` until caught up, each page a batch with its
    /// newest id as cursor; returns the newest id read. At most `max_pages` pages.
    async fn catch_up(
        &self,
        mut min_id: String,
        max_pages: u32,
        tx: &source::Sender,
        cancel: &CancellationToken,
        remember: &mut Remembered,
    ) -> Result<Option<String>, HttpError> {
        for _ in 0..max_pages.max(1) {
            let url = format!(
                "{}/api/v1/timelines/public?limit={PAGE}&min_id={min_id}",
                self.base
            );
            let page: Vec<Status> =
                http::get_json(&self.name, &self.retry, || self.get(&url)).await?;
            if page.is_empty() {
                return Ok(Some(min_id));
            }
            let full = page.len() >= PAGE;
            let newest = page
                .iter()
                .fold(min_id.clone(), |a, s| newer(&a, &s.id).to_string());
            let posts = page
                .iter()
                .map(|s| {
                    let p = s.post();
                    remember.push(&s.id, &p);
                    p
                })
                .collect();
            let batch = SourceBatch {
                source: source_key(&self.base),
                posts,
                cursor: Some(newest.clone()),
                ..SourceBatch::default()
            };
            if !source::send(tx, cancel, batch).await {
                return Ok(None);
            }
            min_id = newest;
            if !full {
                return Ok(Some(min_id));
            }
        }
        tracing::warn!(
            instance = %self.base,
            pages = max_pages,
            "catching up a Mastodon instance stopped at its page limit: older statuses of the gap are not read"
        );
        Ok(Some(min_id))
    }
}

/// The statuses this connection brought, for their `delete` events: id, the post's id (its
/// uri) and time.
#[derive(Default)]
struct Remembered(VecDeque<(String, String, i64)>);

impl Remembered {
    fn push(&mut self, id: &str, post: &Post) {
        if self.0.len() >= REMEMBERED {
            self.0.pop_front();
        }
        self.0
            .push_back((id.to_string(), post.id.clone(), post.created_at.timestamp()));
    }

    /// The dedup key and time of the status `id`, if this connection brought it.
    fn find(&self, id: &str) -> Option<(String, i64)> {
        self.0
            .iter()
            .rev()
            .find(|(i, _, _)| i == id)
            .map(|(_, uri, t)| (format!("{PLATFORM}:{uri}"), *t))
    }
}

/// Follows one instance until cancelled: catches up, streams, reconnects with backoff.
/// `cursor` is the newest status id stored for it. Stops on 401/403 (the instance wants a
/// token, or refuses it).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: MastodonConfig,
    instance: String,
    token: Option<SecretString>,
    cursor: Option<String>,
    tx: source::Sender,
    cancel: CancellationToken,
    live: Option<Arc<Mutex<LiveSources>>>,
) -> anyhow::Result<()> {
    let base = instance.trim_end_matches('/').to_string();
    let name = source_name(&base);
    let inst = Instance {
        base: base.clone(),
        name: name.clone(),
        client: http::client(Duration::from_secs(cfg.timeout_secs.max(1))),
        token,
        retry: Retry::default(),
    };
    let trouble = |why: Option<String>| {
        set_state(live.as_deref(), &name, SourceState::failing_if(why));
    };
    let mut last = cursor;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(64));
    let mut failing = false;
    loop {
        let mut remember = Remembered::default();
        // Catching up and finding the streaming server wait for the instance: a stop must
        // not wait for them.
        let caught_up = match &last {
            Some(min_id) => tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = inst.catch_up(min_id.clone(), cfg.catch_up_pages, &tx, &cancel, &mut remember) => r,
            },
            None => Ok(None),
        };
        match caught_up {
            Ok(Some(newest)) => last = Some(newest),
            Ok(None) if cancel.is_cancelled() => return Ok(()),
            Ok(None) => {}
            Err(e @ HttpError::Auth { .. }) => {
                return Err(anyhow::anyhow!(
                    "{e}; if the instance requires it, set MASTODON_ACCESS_TOKEN"
                ))
            }
            Err(e) => {
                tracing::warn!(instance = %base, error = %e, "catching up a Mastodon instance failed; the stream goes on");
            }
        }
        let base_url = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            b = inst.streaming_base() => b,
        };
        let stream = format!(
            "{}/api/v1/streaming?stream=public",
            base_url.trim_end_matches('/')
        );
        let request = stream.as_str().into_client_request().map(|mut r| {
            if let Some(t) = &inst.token {
                if let Ok(v) = format!("Bearer {}", t.expose_secret()).parse() {
                    r.headers_mut().insert("Authorization", v);
                }
            }
            r
        });
        let connect = match request {
            Ok(r) => tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                c = tokio::time::timeout(
                    Duration::from_secs(cfg.timeout_secs.max(1)),
                    tokio_tungstenite::connect_async(r),
                ) => c.map_err(|_| "connection timed out".to_string()).and_then(|r| r.map_err(|e| e.to_string())),
            },
            Err(e) => Err(e.to_string()),
        };
        match connect {
            Ok((ws, _)) => {
                backoff.reset();
                if failing {
                    tracing::info!(instance = %base, "connected to the Mastodon stream again");
                }
                failing = false;
                trouble(None);
                match read(ws, &base, &mut last, &mut remember, &tx, &cancel).await {
                    StreamEnd::Stopped => return Ok(()),
                    StreamEnd::Dropped(why) => {
                        tracing::warn!(instance = %base, why, "the Mastodon stream dropped; reconnecting")
                    }
                }
            }
            Err(why) => {
                if !failing {
                    tracing::warn!(instance = %base, error = %why, "cannot connect to the Mastodon stream; backing off (logged once until it connects)");
                }
                failing = true;
                trouble(Some(format!("cannot connect: {why}")));
            }
        }
        if !source::sleep(&cancel, backoff.next_wait()).await {
            return Ok(());
        }
    }
}

/// Reads the stream into batches until it drops or the source is cancelled.
async fn read<S>(
    mut ws: S,
    base: &str,
    last: &mut Option<String>,
    remember: &mut Remembered,
    tx: &source::Sender,
    cancel: &CancellationToken,
) -> StreamEnd
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let key = source_key(base);
    let new_batch = || SourceBatch {
        source: key.clone(),
        ..SourceBatch::default()
    };
    let mut batch = new_batch();
    let mut deadline = tokio::time::Instant::now() + BATCH_WAIT;
    let flush = |batch: &mut SourceBatch, last: &Option<String>| {
        let mut out = std::mem::replace(batch, new_batch());
        out.cursor = last.clone();
        out
    };
    loop {
        let msg = tokio::select! {
            _ = cancel.cancelled() => {
                let _ = source::send(tx, cancel, flush(&mut batch, last)).await;
                return StreamEnd::Stopped;
            }
            _ = tokio::time::sleep_until(deadline) => {
                if !batch.is_empty() && !source::send(tx, cancel, flush(&mut batch, last)).await {
                    return StreamEnd::Stopped;
                }
                deadline = tokio::time::Instant::now() + BATCH_WAIT;
                continue;
            }
            m = ws.next() => m,
        };
        let text = match msg {
            None | Some(Err(_)) => {
                let why = match msg {
                    Some(Err(e)) => e.to_string(),
                    _ => "closed".into(),
                };
                let _ = source::send(tx, cancel, flush(&mut batch, last)).await;
                return StreamEnd::Dropped(why);
            }
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
            Some(Ok(_)) => continue,
        };
        match parse_event(&text) {
            Event::Update(s) => {
                let post = s.post();
                remember.push(&s.id, &post);
                *last = Some(match last.as_deref() {
                    Some(l) => newer(l, &s.id).to_string(),
                    None => s.id.clone(),
                });
                batch.posts.push(post);
            }
            Event::Delete(id) => {
                if let Some((key, at)) = remember.find(&id) {
                    batch.removed.push((key, at));
                }
            }
            Event::Other => {}
            Event::Bad(b) => batch.bad.push(b),
        }
        if batch.posts.len() >= BATCH_POSTS
            && !source::send(tx, cancel, flush(&mut batch, last)).await
        {
            return StreamEnd::Stopped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: &str, content: &str) -> String {
        serde_json::json!({
            "id": id, "uri": format!("https://piaille.fr/users/a/statuses/{id}"),
            "url": format!("https://piaille.fr/@a/{id}"), "created_at": "2025-06-03T08:00:00.000Z",
            "content": content, "spoiler_text": "", "language": "fr",
            "account": {"acct": "a"}, "reblog": null,
            "favourites_count": 3, "reblogs_count": 2, "replies_count": 1
        })
        .to_string()
    }

    #[test]
    fn an_update_is_a_post_keyed_by_its_uri_and_a_reblog_is_its_original() {
        let s = status(
            "1",
            "<p>La <a href=\"#\">#SNCF</a> encore en retard&nbsp;!</p>",
        );
        let msg =
            serde_json::json!({"stream": ["public"], "event": "update", "payload": s}).to_string();
        let Event::Update(st) = parse_event(&msg) else {
            panic!("an update")
        };
        let p = st.post();
        assert_eq!(
            p.dedup_key(),
            "mastodon:https://piaille.fr/users/a/statuses/1"
        );
        assert_eq!(p.text, "La #SNCF encore en retard !");
        assert_eq!(
            p.metrics.map(|m| (m.likes, m.reposts, m.replies)),
            Some((3, 2, 1))
        );
        let mut cw: Status = serde_json::from_str(&s).expect("a status");
        cw.spoiler_text = "Transports".into();
        assert_eq!(cw.post().text, "Transports\nLa #SNCF encore en retard !");
        let boost = serde_json::json!({
            "id": "9", "uri": "https://mastodon.social/users/b/statuses/9/activity",
            "created_at": "2025-06-03T09:00:00.000Z", "content": "", "account": {"acct": "b@mastodon.social"},
            "reblog": serde_json::from_str::<serde_json::Value>(&s).expect("json")
        });
        let boost: Status = serde_json::from_value(boost).expect("a reblog");
        assert_eq!(
            boost.post().dedup_key(),
            p.dedup_key(),
            "a reblog counts as its original"
        );
    }

    #[test]
    fn deletes_other_events_and_garbage_are_told_apart() {
        assert!(matches!(
            parse_event(r#"{"stream":["public"],"event":"delete","payload":"123"}"#),
            Event::Delete(id) if id == "123"
        ));
        assert!(matches!(
            parse_event(r#"{"stream":["public"],"event":"status.update","payload":"{}"}"#),
            Event::Other
        ));
        assert!(matches!(
            parse_event("[1, 2]"),
            Event::Bad(Bad {
                kind: "not an event",
                ..
            })
        ));
        assert!(matches!(
            parse_event("garbage"),
            Event::Bad(Bad {
                kind: "not JSON",
                ..
            })
        ));
        assert!(matches!(
            parse_event(r#"{"event":"update","payload":"{\"id\":1}"}"#),
            Event::Bad(Bad {
                kind: "status not readable",
                ..
            })
        ));
    }

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(newer("99", "100"), "100");
        assert_eq!(newer("110", "109"), "110");
    }
}
