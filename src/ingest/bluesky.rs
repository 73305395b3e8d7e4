//! Bluesky's Jetstream: the public firehose of posts over a WebSocket, no auth.
//!
//! Subscribes to `app.bsky.feed.post` creations; deletes and other kinds of events are
//! ignored. Jetstream's cursor is a time in microseconds: it is stored with every batch, and a
//! restart resumes a few seconds earlier (the overlap is deduplicated downstream).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::file::Bad;
use super::pipeline::{set_state, LiveSources, SourceState};
use super::source::{self, SourceBatch, StreamEnd};
use crate::config::BlueskyConfig;
use crate::http::Backoff;
use crate::model::Post;

/// The source's name and cursor key.
pub const SOURCE: &str = "bluesky:jetstream";

/// Posts a batch at most, and how long a batch waits for more.
const BATCH_POSTS: usize = 500;
const BATCH_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Deserialize)]
struct Event {
    did: String,
    time_us: i64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    /// Read once known to be an object (serde would read a struct from an array).
    #[serde(default)]
    record: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(rename = "$type", default)]
    kind: Option<String>,
    text: String,
    /// Read as text: an unreadable date falls back to the event's time, like a missing one.
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
}

/// The collection of posts, and the `$type` of their records.
const POST_TYPE: &str = "app.bsky.feed.post";

/// Whether a JSON text is an object (not an array, a string or a number).
fn is_object(json: &str) -> bool {
    json.trim_start().starts_with('{')
}

/// What one Jetstream frame is.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A new post, the event's time, and a note when its date fell back to the event's
    /// time.
    Post(Box<Post>, i64, Option<Bad>),
    /// Something to ignore (a delete, another collection, an identity event), and its time.
    Ignored(i64),
    /// Not an event.
    Bad(Bad),
}

/// Reads one text frame.
pub fn parse_frame(text: &str) -> Frame {
    // Not an event: valid JSON of another shape, or not JSON at all.
    let not_event = |detail: String| {
        let kind = if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
            "not an event"
        } else {
            "not JSON"
        };
        Frame::Bad(Bad { kind, detail })
    };
    if !is_object(text) {
        return not_event("a frame that is not a JSON object".into());
    }
    let ev: Event = match serde_json::from_str(text) {
        Ok(ev) => ev,
        Err(e) => return not_event(e.to_string()),
    };
    let Some(c) = ev
        .commit
        .filter(|c| ev.kind == "commit" && c.operation == "create" && c.collection == POST_TYPE)
    else {
        return Frame::Ignored(ev.time_us);
    };
    let Some(raw) = c.record else {
        return Frame::Bad(Bad {
            kind: "post without record",
            detail: format!("{}/{}", ev.did, c.rkey),
        });
    };
    let record: Record = match serde_json::from_str(raw.get()) {
        Ok(r) if is_object(raw.get()) => r,
        Ok(_) | Err(_) => {
            return Frame::Bad(Bad {
                kind: "record is not a post",
                detail: format!("{}/{}", ev.did, c.rkey),
            })
        }
    };
    if record.kind.as_deref().is_some_and(|k| k != POST_TYPE) {
        return Frame::Bad(Bad {
            kind: "record is not a post",
            detail: format!("{}/{}: $type {:?}", ev.did, c.rkey, record.kind),
        });
    }
    let event_time =
        || chrono::DateTime::from_timestamp_micros(ev.time_us).unwrap_or_else(chrono::Utc::now);
    let (created_at, note) = match record
        .created_at
        .as_deref()
        .map(chrono::DateTime::parse_from_rfc3339)
    {
        Some(Ok(t)) => (t.with_timezone(&chrono::Utc), None),
        None => (event_time(), None),
        Some(Err(e)) => (
            event_time(),
            Some(Bad {
                kind: "unreadable createdAt, the event's time used",
                detail: format!("{}/{}: {e}", ev.did, c.rkey),
            }),
        ),
    };
    let post = Post {
        platform: "bluesky".into(),
        id: format!("{}/{}", ev.did, c.rkey),
        original_id: None,
        url: Some(format!(
            "https://bsky.app/profile/{}/post/{}",
            ev.did, c.rkey
        )),
        text: record.text,
        created_at,
        author: Some(ev.did),
        lang: record.langs.into_iter().next(),
        metrics: None,
        about: None,
    };
    Frame::Post(Box::new(post), ev.time_us, note)
}

/// The subscription URL, resuming from `cursor` (microseconds) when given.
pub fn subscribe_url(cfg: &BlueskyConfig, cursor: Option<i64>) -> String {
    let mut url = format!(
        "{}/subscribe?wantedCollections=app.bsky.feed.post",
        cfg.jetstream_url.trim_end_matches('/')
    );
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    url
}

/// The source's name in reports and the live status.
pub const SOURCE_NAME: &str = "Bluesky Jetstream";

/// Follows Jetstream until cancelled, reconnecting with backoff; `cursor` is the stored one.
pub async fn run(
    cfg: BlueskyConfig,
    cursor: Option<i64>,
    tx: source::Sender,
    cancel: CancellationToken,
    live: Option<Arc<Mutex<LiveSources>>>,
) -> anyhow::Result<()> {
    let overlap = (cfg.overlap_secs as i64).saturating_mul(1_000_000);
    let mut last = cursor;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(64));
    // A streak of failed connections is logged once (a warning), then at debug level; the
    // live status says why until it connects again.
    let mut failing = false;
    let trouble = |why: Option<String>| {
        let state = SourceState::failing_if(why);
        set_state(live.as_deref(), SOURCE_NAME, state);
    };
    loop {
        let url = subscribe_url(&cfg, last.map(|c| c - overlap));
        let connect = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            c = tokio::time::timeout(Duration::from_secs(cfg.timeout_secs), tokio_tungstenite::connect_async(url.as_str())) => c,
        };
        match connect {
            Ok(Ok((ws, _))) => {
                backoff.reset();
                if failing {
                    tracing::info!("connected to Jetstream again");
                }
                failing = false;
                trouble(None);
                match read(ws, &mut last, &tx, &cancel).await {
                    StreamEnd::Stopped => return Ok(()),
                    StreamEnd::Dropped(why) => {
                        tracing::warn!(why, "Jetstream dropped; reconnecting")
                    }
                }
            }
            Ok(Err(e)) => {
                let why = format!("cannot connect: {e}");
                if failing {
                    tracing::debug!(error = %e, "cannot connect to Jetstream; backing off");
                } else {
                    tracing::warn!(error = %e, "cannot connect to Jetstream; backing off (logged once until it connects)");
                }
                failing = true;
                trouble(Some(why));
            }
            Err(_) => {
                if !failing {
                    tracing::warn!("connecting to Jetstream timed out; backing off (logged once until it connects)");
                }
                failing = true;
                trouble(Some("connection timed out".into()));
            }
        }
        if !source::sleep(&cancel, backoff.next_wait()).await {
            return Ok(());
        }
    }
}

async fn read<S>(
    mut ws: S,
    last: &mut Option<i64>,
    tx: &source::Sender,
    cancel: &CancellationToken,
) -> StreamEnd
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut batch = SourceBatch {
        source: SOURCE.into(),
        ..SourceBatch::default()
    };
    let mut deadline = tokio::time::Instant::now() + BATCH_WAIT;
    loop {
        let msg = tokio::select! {
            _ = cancel.cancelled() => {
                flush(&mut batch, *last, tx, cancel).await;
                return StreamEnd::Stopped;
            }
            _ = tokio::time::sleep_until(deadline) => {
                if !flush(&mut batch, *last, tx, cancel).await {
                    return StreamEnd::Stopped;
                }
                deadline = tokio::time::Instant::now() + BATCH_WAIT;
                continue;
            }
            m = ws.next() => m,
        };
        let text = match msg {
            None => {
                flush(&mut batch, *last, tx, cancel).await;
                return StreamEnd::Dropped("closed".into());
            }
            Some(Err(e)) => {
                flush(&mut batch, *last, tx, cancel).await;
                return StreamEnd::Dropped(e.to_string());
            }
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
            Some(Ok(_)) => continue,
        };
        match parse_frame(&text) {
            Frame::Post(p, t, note) => {
                batch.posts.push(*p);
                batch.notes.extend(note);
                *last = Some(t);
            }
            Frame::Ignored(t) => *last = Some(t),
            Frame::Bad(b) => batch.bad.push(b),
        }
        if batch.posts.len() >= BATCH_POSTS && !flush(&mut batch, *last, tx, cancel).await {
            return StreamEnd::Stopped;
        }
    }
}

/// Sends what the batch holds, with the cursor; false when the pipeline stopped.
async fn flush(
    batch: &mut SourceBatch,
    last: Option<i64>,
    tx: &source::Sender,
    cancel: &CancellationToken,
) -> bool {
    if batch.posts.is_empty() && batch.bad.is_empty() && batch.notes.is_empty() {
        return true;
    }
    let mut out = std::mem::take(batch);
    out.source = SOURCE.into();
    batch.source = SOURCE.into();
    out.cursor = last.map(|t| t.to_string());
    source::send(tx, cancel, out).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_commit_becomes_a_post_with_its_url() {
        let f = parse_frame(
            r#"{"did":"did:plc:q235v55g5unth4zjjdpacfdr","time_us":1779719009157119,"kind":"commit","commit":{"rev":"3mmoojpaqkn2z","operation":"create","collection":"app.bsky.feed.post","rkey":"3mmoojp4cd223","record":{"$type":"app.bsky.feed.post","createdAt":"2026-05-25T14:23:28.757Z","langs":["en"],"text":"Try RSV for a good time !!"},"cid":"bafyrei"}}"#,
        );
        let Frame::Post(p, t, None) = f else {
            panic!("a post: {f:?}")
        };
        assert_eq!(t, 1779719009157119);
        assert_eq!(
            p.url.as_deref(),
            Some("https://bsky.app/profile/did:plc:q235v55g5unth4zjjdpacfdr/post/3mmoojp4cd223")
        );
        assert_eq!(
            (p.lang.as_deref(), p.text.as_str()),
            (Some("en"), "Try RSV for a good time !!")
        );
        assert_eq!(
            p.dedup_key(),
            "bluesky:did:plc:q235v55g5unth4zjjdpacfdr/3mmoojp4cd223"
        );
    }

    fn post_frame(record: &str) -> String {
        format!(
            r#"{{"did":"d","time_us":1779719009157119,"kind":"commit","commit":{{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{record}}}}}"#
        )
    }

    #[test]
    fn only_objects_whose_record_is_a_post_become_posts() {
        // serde reads a struct from an array: such frames must not count as posts.
        let f = parse_frame(r#"["d", 5, "commit", {"text": "SNCF honteux"}]"#);
        assert!(
            matches!(
                f,
                Frame::Bad(Bad {
                    kind: "not an event",
                    ..
                })
            ),
            "{f:?}"
        );
        let f = parse_frame(&post_frame(r#"["app.bsky.feed.post", "SNCF honteux"]"#));
        assert!(
            matches!(
                f,
                Frame::Bad(Bad {
                    kind: "record is not a post",
                    ..
                })
            ),
            "{f:?}"
        );
        let f = parse_frame(&post_frame(
            r#"{"$type":"app.bsky.feed.like","text":"SNCF"}"#,
        ));
        assert!(
            matches!(
                f,
                Frame::Bad(Bad {
                    kind: "record is not a post",
                    ..
                })
            ),
            "{f:?}"
        );
    }

    #[test]
    fn a_missing_or_unreadable_date_falls_back_to_the_event_time_alike() {
        let at = chrono::DateTime::from_timestamp_micros(1779719009157119).expect("time");
        let Frame::Post(p, _, None) = parse_frame(&post_frame(r#"{"text":"x"}"#)) else {
            panic!("a post with no note")
        };
        assert_eq!(p.created_at, at);
        let f = parse_frame(&post_frame(r#"{"text":"x","createdAt":"hier soir"}"#));
        let Frame::Post(p, _, Some(note)) = f else {
            panic!("a post with a note: {f:?}")
        };
        assert_eq!(p.created_at, at);
        assert_eq!(note.kind, "unreadable createdAt, the event's time used");
    }

    #[test]
    fn deletes_other_collections_and_garbage() {
        assert_eq!(
            parse_frame(
                r#"{"did":"d","time_us":5,"kind":"commit","commit":{"rev":"r","operation":"delete","collection":"app.bsky.feed.post","rkey":"k"}}"#
            ),
            Frame::Ignored(5)
        );
        assert_eq!(
            parse_frame(
                r#"{"did":"d","time_us":6,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.like","rkey":"k","record":{"text":"x"}}}"#
            ),
            Frame::Ignored(6)
        );
        assert_eq!(
            parse_frame(r#"{"did":"d","time_us":7,"kind":"identity","identity":{}}"#),
            Frame::Ignored(7)
        );
        assert!(matches!(
            parse_frame("{not json"),
            Frame::Bad(Bad {
                kind: "not JSON",
                ..
            })
        ));
        assert!(matches!(
            parse_frame(r#"{"hello":1}"#),
            Frame::Bad(Bad {
                kind: "not an event",
                ..
            })
        ));
    }

    #[test]
    fn the_url_resumes_from_the_cursor() {
        let cfg = BlueskyConfig::default();
        assert_eq!(
            subscribe_url(&cfg, Some(42)),
            "wss://jetstream1.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post&cursor=42"
        );
    }
}
