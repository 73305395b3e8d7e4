//! Web feeds as a source: RSS 0.9x, 1.0 and 2.0, Atom 1.0 and JSON Feed 1.1 (the press,
//! Google Alerts and Google News searches, blogs, YouTube channels, Mastodon tags, Reddit
//! searches), parsed by feed-rs, polled every `poll_interval_secs` with a random tenth more
//! or less.
//!
//! - Each item is a post of platform `web`: id its guid, else its link, else a hash of its
//!   title and date; text its title and summary as plain text; time its published or
//!   updated date, else when it was first seen; author its author, else the feed's title.
//!   Its dedup key is its link when it has one, so the same article in two feeds counts
//!   once; the time a post was first stored under is given again to the same post
//!   ([`crate::store::Store::first_seen`]), so that a feed that dates it differently, or not
//!   at all, cannot count it twice.
//! - A poll sends back the validators (`ETag`, `Last-Modified`) of the last answer for that
//!   URL: a 304 reads nothing. The validators, and the new address after a permanent
//!   redirect, are the feed's cursor, stored with the batch of its items.
//! - Bad answers never stop or delay the other feeds: a 410 stops that feed for good, a 429
//!   or 503 waits its `Retry-After`, other 5xx and network errors back off with jitter, a
//!   404, a malformed feed, a body over `max_bytes`, an answer slower than `timeout_secs` or
//!   a document declaring XML entities (an expansion bomb) wait for the next poll. Each is
//!   logged once with the feed's URL while it lasts and shown in `/status`.
//! - A feed a server added goes only to public addresses ([`crate::http::PublicOnly`]),
//!   checked at every redirect, unless `allow_private_addresses`; the configuration's feeds
//!   are the deployer's own and are not filtered.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::html;
use super::pipeline::LiveSources;
use super::source::{self, SourceBatch};
use crate::config::FeedsConfig;
use crate::http::{self, Backoff};
use crate::model::Post;
use crate::store::{dedup_hash, Store};

/// The platform of feed items.
pub const PLATFORM: &str = "web";

/// The name of the feeds in reports and `/status`.
pub const SOURCE_NAME: &str = "feeds";

/// A feed's cursor key in the store: `feed:` and the URL it was added under.
pub fn source_key(url: &str) -> String {
    format!("feed:{url}")
}

/// Redirects followed at the most.
const MAX_REDIRECTS: usize = 5;

/// The longest text kept of an item (its title and summary).
const TEXT_MAX: usize = 4000;

/// How often the list of feeds is read again (servers add and remove theirs).
const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// What a feed's next poll sends back, and what it learnt: its cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validators {
    /// The last answer's `ETag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The last answer's `Last-Modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Where the feed moved for good (a 301 or 308): polled there from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// Why the feed is not polled any more (a 410).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone: Option<String>,
}

/// A feed to poll.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedUrl {
    /// The URL as it was added.
    pub url: String,
    /// Only public addresses (a feed a server added).
    pub public_only: bool,
}

/// How a feed stands, for `/status` and `/feed list`.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedState {
    /// Not polled yet.
    Waiting,
    /// Its last poll was read.
    Read {
        /// When.
        at: DateTime<Utc>,
        /// Items it held (none on a 304).
        items: usize,
    },
    /// Its polls fail; retried.
    Failing {
        /// Why.
        why: FetchError,
        /// Since when.
        since: DateTime<Utc>,
    },
    /// Not polled any more.
    Stopped {
        /// Why.
        why: FetchError,
    },
}

/// Why a poll read nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// 410: the feed is gone for good.
    #[error("the feed is gone (HTTP 410)")]
    Gone,
    /// 429 or 503 asking to come back later.
    #[error("the site asks to wait (HTTP {status})")]
    RetryAfter {
        /// The status.
        status: u16,
        /// How long, when it said.
        wait: Option<Duration>,
    },
    /// Another status.
    #[error("HTTP {0}")]
    Status(u16),
    /// A network error or a timeout.
    #[error("{0}")]
    Network(String),
    /// The body is larger than allowed.
    #[error("the feed is larger than {0} bytes")]
    TooLarge(u64),
    /// The address is not allowed.
    #[error("{0}")]
    Refused(#[from] http::AddressRefused),
    /// Too many redirects, or one without a usable `Location`.
    #[error("the redirects do not end at a feed")]
    Redirects,
    /// Not a feed.
    #[error("not a readable feed: {0}")]
    Malformed(String),
}

impl FetchError {
    /// What a community manager reads of it, in `lang`.
    pub fn describe(&self, lang: crate::model::Lang) -> String {
        use crate::model::Lang::{En, Fr};
        match (self, lang) {
            (FetchError::Gone, Fr) => {
                "le site dit que ce flux n'existe plus (HTTP 410) : il n'est plus lu".into()
            }
            (FetchError::Gone, En) => {
                "the site says this feed no longer exists (HTTP 410): it is no longer read".into()
            }
            (FetchError::RetryAfter { status, .. }, Fr) => {
                format!("le site demande d'attendre (HTTP {status}) : nouvel essai plus tard")
            }
            (FetchError::RetryAfter { status, .. }, En) => {
                format!("the site asks to wait (HTTP {status}): trying again later")
            }
            (FetchError::Status(404), Fr) => "page introuvable (HTTP 404)".into(),
            (FetchError::Status(404), En) => "page not found (HTTP 404)".into(),
            (FetchError::Status(s), Fr) => format!("le site répond par une erreur (HTTP {s})"),
            (FetchError::Status(s), En) => format!("the site answers with an error (HTTP {s})"),
            (FetchError::Network(_), Fr) => "le site ne répond pas à temps".into(),
            (FetchError::Network(_), En) => "the site does not answer in time".into(),
            (FetchError::TooLarge(n), Fr) => {
                format!("le flux dépasse {} Mo : refusé", n.div_ceil(1024 * 1024))
            }
            (FetchError::TooLarge(n), En) => {
                format!("the feed is over {} MB: refused", n.div_ceil(1024 * 1024))
            }
            (FetchError::Refused(_), Fr) => {
                "l'adresse ne mène pas à un site public : refusée".into()
            }
            (FetchError::Refused(_), En) => {
                "the address does not lead to a public site: refused".into()
            }
            (FetchError::Redirects, Fr) => "les redirections ne mènent pas à un flux".into(),
            (FetchError::Redirects, En) => "the redirects do not lead to a feed".into(),
            (FetchError::Malformed(_), Fr) => {
                "ce n'est pas un flux lisible (RSS, Atom ou JSON Feed)".into()
            }
            (FetchError::Malformed(_), En) => {
                "this is not a readable feed (RSS, Atom or JSON Feed)".into()
            }
        }
    }

    /// Whether it is the network's or the site's passing trouble (backoff), not the feed's.
    fn transient(&self) -> bool {
        match self {
            FetchError::Network(_) => true,
            FetchError::Status(s) => *s >= 500,
            FetchError::RetryAfter { .. } => true,
            _ => false,
        }
    }
}

/// A poll's answer.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing new.
    NotModified,
    /// A body, with the validators to send next time.
    Body {
        /// The bytes, as sent (the parser reads the encoding the XML prolog declares).
        bytes: Vec<u8>,
        /// The new validators (`moved_to` set after a permanent redirect).
        validators: Validators,
        /// The address the body came from (relative links resolve against it).
        url: String,
    },
}

/// The HTTP side of feeds: one client for the deployer's feeds, one that reaches only
/// public addresses for the servers'.
#[derive(Debug, Clone)]
pub struct Fetcher {
    open: reqwest::Client,
    public: reqwest::Client,
    filter: bool,
    allowed: fn(std::net::IpAddr) -> bool,
    max_bytes: u64,
}

impl Fetcher {
    /// The clients as `cfg` says (timeouts, size, address filter).
    pub fn new(cfg: &FeedsConfig) -> Fetcher {
        Fetcher::with_rule(cfg, http::is_public)
    }

    /// [`Fetcher::new`] with another rule for the addresses a server's feed may reach.
    pub fn with_rule(cfg: &FeedsConfig, allowed: fn(std::net::IpAddr) -> bool) -> Fetcher {
        let build = |public: bool| {
            let mut b = reqwest::Client::builder()
                .user_agent(concat!(
                    "veille/",
                    env!("CARGO_PKG_VERSION"),
                    " (feed reader)"
                ))
                .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
                .redirect(reqwest::redirect::Policy::none());
            if public {
                b = b.dns_resolver(Arc::new(http::PublicOnly(allowed)));
            }
            b.build()
                .expect("a client with a timeout and a resolver builds")
        };
        let filter = !cfg.allow_private_addresses;
        Fetcher {
            open: build(false),
            public: build(filter),
            filter,
            allowed,
            max_bytes: cfg.max_bytes,
        }
    }

    /// Polls `url` with `validators`, following redirects (each checked when `public_only`).
    pub async fn fetch(
        &self,
        url: &str,
        public_only: bool,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let checked = public_only && self.filter;
        let client = if checked { &self.public } else { &self.open };
        let mut current = reqwest::Url::parse(url).map_err(|_| FetchError::Redirects)?;
        let mut permanent = true;
        for hop in 0..=MAX_REDIRECTS {
            if checked {
                http::check_url_with(&current, self.allowed)?;
            } else if !matches!(current.scheme(), "http" | "https") {
                return Err(http::AddressRefused::Scheme.into());
            }
            let mut req = client.get(current.clone()).header(
                reqwest::header::ACCEPT,
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            );
            if hop == 0 {
                if let Some(e) = &validators.etag {
                    req = req.header(reqwest::header::IF_NONE_MATCH, e);
                }
                if let Some(m) = &validators.last_modified {
                    req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
                }
            }
            let resp = req.send().await.map_err(network)?;
            let status = resp.status().as_u16();
            match status {
                301 | 302 | 303 | 307 | 308 => {
                    permanent &= matches!(status, 301 | 308);
                    let next = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| current.join(l).ok())
                        .ok_or(FetchError::Redirects)?;
                    current = next;
                }
                304 => return Ok(Fetched::NotModified),
                200..=299 => {
                    let header = |name| {
                        resp.headers()
                            .get(name)
                            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                            .map(String::from)
                    };
                    let next = Validators {
                        etag: header(reqwest::header::ETAG),
                        last_modified: header(reqwest::header::LAST_MODIFIED),
                        moved_to: (permanent && hop > 0).then(|| current.to_string()),
                        gone: None,
                    };
                    let bytes = read_capped(resp, self.max_bytes).await?;
                    return Ok(Fetched::Body {
                        bytes,
                        validators: next,
                        url: current.to_string(),
                    });
                }
                410 => return Err(FetchError::Gone),
                429 | 503 => {
                    let wait = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(retry_after);
                    return Err(FetchError::RetryAfter { status, wait });
                }
                s => return Err(FetchError::Status(s)),
            }
        }
        Err(FetchError::Redirects)
    }
}

/// A reqwest error as a poll's failure, without the URL (the caller names the feed).
fn network(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<http::AddressRefused>() {
            return FetchError::Refused(refused.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Network("no answer in time".into());
    }
    FetchError::Network(e.without_url().to_string())
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let secs = (at.with_timezone(&Utc) - Utc::now()).num_seconds().max(0);
    Some(Duration::from_secs(secs as u64))
}

/// The body, refused past `max` bytes (decompressed: a gzip bomb stops there too).
async fn read_capped(mut resp: reqwest::Response, max: u64) -> Result<Vec<u8>, FetchError> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(FetchError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(network)? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(FetchError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a feed of any format; `url` resolves relative links. A document that declares
/// XML entities is refused before parsing: no feed needs one, and their expansion is how a
/// small file becomes gigabytes.
pub fn parse(bytes: &[u8], url: &str) -> Result<feed_rs::model::Feed, FetchError> {
    if declares_entities(bytes) {
        return Err(FetchError::Malformed(
            "it declares XML entities, refused".into(),
        ));
    }
    feed_rs::parser::Builder::new()
        .base_uri(Some(url))
        // An entry without an id keeps none: [`posts`] gives it one by its own rule.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(timestamp)
        .build()
        .parse(bytes)
        .map_err(|e| FetchError::Malformed(e.to_string()))
}

/// A feed's date: RFC 3339 (Atom, JSON Feed, `dc:date`), RFC 822 with or without its day
/// name (RSS: `Tue, 03 Jun 2025 09:39:21 +0200`, `03 Jun 2025 09:39:21 GMT`), and what feeds
/// write instead: a zone by its name (`CEST`), no zone (taken as UTC), a bare day.
pub fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDate, NaiveDateTime};
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s).or_else(|_| DateTime::parse_from_rfc2822(s)) {
        return Some(t.with_timezone(&Utc));
    }
    // A zone by its name, a French one or UTC.
    for (name, offset) in [
        ("CEST", "+0200"),
        ("CET", "+0100"),
        ("BST", "+0100"),
        ("UTC", "+0000"),
        ("Z", "+0000"),
    ] {
        if let Some(head) = s.strip_suffix(name) {
            if let Ok(t) = DateTime::parse_from_rfc2822(&format!("{}{offset}", head)) {
                return Some(t.with_timezone(&Utc));
            }
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%d %b %Y %H:%M:%S",
        "%a, %d %b %Y %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Whether the prolog (what comes before the root element: the XML declaration, comments,
/// the DOCTYPE and its internal subset) declares an entity.
fn declares_entities(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'<') {
        rest = &rest[i + 1..];
        match rest.first() {
            Some(b'?') | Some(b'!') => {
                if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"!ENTITY") {
                    return true;
                }
            }
            // The root element: no declaration comes after it.
            _ => return false,
        }
    }
    false
}

/// The items of `feed` as posts; `now` dates those with no date of their own.
pub fn posts(feed: &feed_rs::model::Feed, now: DateTime<Utc>) -> Vec<Post> {
    let feed_title = feed
        .title
        .as_ref()
        .map(|t| html::to_text(&t.content))
        .filter(|t| !t.is_empty());
    let lang = feed
        .language
        .as_deref()
        .map(|l| l.chars().take(2).collect::<String>().to_lowercase())
        .filter(|l| l.len() == 2);
    feed.entries
        .iter()
        .filter_map(|e| {
            let link = e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or(e.links.first())
                .map(|l| l.href.trim().to_string())
                .filter(|l| !l.is_empty());
            let title = e.title.as_ref().map(|t| html::to_text(&t.content));
            let summary = e
                .summary
                .as_ref()
                .map(|t| t.content.clone())
                .or_else(|| e.content.as_ref().and_then(|c| c.body.clone()))
                .map(|s| html::to_text(&s));
            let mut text = match (&title, &summary) {
                (Some(t), Some(s)) if s.starts_with(t.as_str()) => s.clone(),
                (Some(t), Some(s)) if !s.is_empty() => format!("{t}\n{s}"),
                (Some(t), _) => t.clone(),
                (None, Some(s)) => s.clone(),
                (None, None) => String::new(),
            };
            if text.trim().is_empty() {
                return None;
            }
            if text.chars().count() > TEXT_MAX {
                text = text.chars().take(TEXT_MAX).collect();
            }
            let dated = e.published.or(e.updated);
            let id = if !e.id.trim().is_empty() {
                e.id.trim().to_string()
            } else if let Some(l) = &link {
                l.clone()
            } else {
                format!(
                    "{:016x}",
                    dedup_hash(&format!(
                        "{}\u{0}{}",
                        title.as_deref().unwrap_or_default(),
                        dated.map(|d| d.to_rfc3339()).unwrap_or_default()
                    ))
                )
            };
            let author = e
                .authors
                .iter()
                .find_map(|a| a.name.clone().filter(|n| !n.trim().is_empty()))
                .or_else(|| feed_title.clone());
            Some(Post {
                platform: PLATFORM.into(),
                original_id: link.clone().filter(|l| *l != id),
                id,
                text,
                created_at: dated.unwrap_or(now),
                author,
                lang: lang.clone(),
                url: link,
                metrics: None,
                about: None,
            })
        })
        .collect()
}

/// What the poll of one feed gave.
struct Polled {
    feed: FeedUrl,
    result: Result<(Fetched, Vec<Post>), FetchError>,
}

/// What the scheduler keeps of a feed.
struct Tracked {
    validators: Validators,
    next: Instant,
    backoff: Backoff,
    in_flight: bool,
    failing: Option<String>,
}

/// The time posts already seen were first given, in this run and in the store: the same
/// item gets the same time whichever feed or poll brings it (see the module's doc).
struct Dates {
    store: Store,
    given: HashMap<u64, i64>,
}

impl Dates {
    /// The time to give `post`.
    fn settle(&mut self, post: &mut Post) {
        let hash = dedup_hash(&post.dedup_key());
        let known = match self.given.get(&hash) {
            Some(t) => Some(*t),
            None => self.store.first_seen(hash).ok().flatten(),
        };
        if let Some(t) = known.and_then(|t| DateTime::from_timestamp(t, 0)) {
            post.created_at = t;
        }
        if self.given.len() > 200_000 {
            self.given.clear();
        }
        self.given.insert(hash, post.created_at.timestamp());
    }
}

/// Polls the feeds `list` gives (read again every few seconds) until cancelled, or each once
/// with `once`; each feed's posts go to `tx` as one batch with its cursor. `live` says how
/// each feed stands.
pub async fn run(
    cfg: FeedsConfig,
    store: Store,
    list: Arc<dyn Fn() -> Vec<FeedUrl> + Send + Sync>,
    tx: source::Sender,
    cancel: CancellationToken,
    live: Arc<Mutex<LiveSources>>,
    once: bool,
) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(&cfg);
    let interval = cfg.poll_interval();
    let mut feeds: BTreeMap<FeedUrl, Tracked> = BTreeMap::new();
    let mut dates = Dates {
        store: store.clone(),
        given: HashMap::new(),
    };
    let mut polls: JoinSet<Polled> = JoinSet::new();
    let mut reload_at = Instant::now();
    let mut rng = http::jitter_rng();
    loop {
        if Instant::now() >= reload_at {
            let wanted = list();
            feeds.retain(|f, _| wanted.contains(f));
            if let Ok(mut l) = live.lock() {
                l.feeds.retain(|u, _| wanted.iter().any(|f| f.url == *u));
            }
            for f in wanted {
                if feeds.contains_key(&f) {
                    continue;
                }
                let validators: Validators = store
                    .cursor(&source_key(&f.url))?
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_default();
                let state = match &validators.gone {
                    Some(_) => FeedState::Stopped {
                        why: FetchError::Gone,
                    },
                    None => FeedState::Waiting,
                };
                set_state(&live, &f.url, state);
                // New feeds start within a tenth of the interval, not all at once.
                let spread = if once {
                    Duration::ZERO
                } else {
                    interval.mul_f64(rng.gen_range(0.0..0.1))
                };
                feeds.insert(
                    f,
                    Tracked {
                        validators,
                        next: Instant::now() + spread,
                        backoff: Backoff::new(
                            Duration::from_secs(60),
                            interval.max(Duration::from_secs(60)),
                        ),
                        in_flight: false,
                        failing: None,
                    },
                );
            }
            reload_at = Instant::now() + RELOAD_EVERY;
        }
        let now = Instant::now();
        for (f, t) in feeds.iter_mut() {
            if polls.len() >= cfg.concurrency.max(1) {
                break;
            }
            if t.in_flight || t.validators.gone.is_some() || t.next > now {
                continue;
            }
            t.in_flight = true;
            if once {
                // Polled once: never due again in this run.
                t.next = now + Duration::from_secs(365 * 86_400);
            }
            let (fetcher, feed, validators) = (fetcher.clone(), f.clone(), t.validators.clone());
            polls.spawn(async move {
                let url = validators
                    .moved_to
                    .clone()
                    .unwrap_or_else(|| feed.url.clone());
                let result = match fetcher.fetch(&url, feed.public_only, &validators).await {
                    Ok(Fetched::NotModified) => Ok((Fetched::NotModified, Vec::new())),
                    Ok(Fetched::Body {
                        bytes,
                        validators,
                        url,
                    }) => parse(&bytes, &url).map(|parsed| {
                        let posts = posts(&parsed, Utc::now());
                        (
                            Fetched::Body {
                                bytes: Vec::new(),
                                validators,
                                url,
                            },
                            posts,
                        )
                    }),
                    Err(e) => Err(e),
                };
                Polled { feed, result }
            });
        }
        if once && polls.is_empty() {
            // Every feed was polled once (or is gone).
            return Ok(());
        }
        let wake = feeds
            .values()
            .filter(|t| !t.in_flight && t.validators.gone.is_none())
            .map(|t| t.next)
            .min()
            .unwrap_or(reload_at)
            .min(reload_at);
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            done = polls.join_next(), if !polls.is_empty() => {
                let Some(Ok(polled)) = done else { continue };
                let Some(t) = feeds.get_mut(&polled.feed) else { continue };
                t.in_flight = false;
                let url = polled.feed.url.clone();
                match polled.result {
                    Ok((fetched, mut items)) => {
                        if let Some(why) = t.failing.take() {
                            tracing::info!(feed = %url, was = why, "the feed reads again");
                        }
                        t.backoff.reset();
                        t.next = Instant::now() + jittered(interval, &mut rng);
                        let n = items.len();
                        let cursor = match fetched {
                            Fetched::Body { validators, .. } => {
                                if let Some(to) = &validators.moved_to {
                                    if t.validators.moved_to.as_ref() != Some(to) {
                                        tracing::info!(feed = %url, moved_to = %to, "the feed moved for good: polled at its new address");
                                    }
                                }
                                let moved = validators.moved_to.clone().or(t.validators.moved_to.clone());
                                t.validators = Validators { moved_to: moved, ..validators };
                                Some(serde_json::to_string(&t.validators)?)
                            }
                            Fetched::NotModified => None,
                        };
                        items.iter_mut().for_each(|p| dates.settle(p));
                        set_state(&live, &url, FeedState::Read { at: Utc::now(), items: n });
                        if cursor.is_some() || !items.is_empty() {
                            let batch = SourceBatch {
                                source: source_key(&url),
                                posts: items,
                                cursor,
                                ..SourceBatch::default()
                            };
                            if !source::send(&tx, &cancel, batch).await {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        if t.failing.as_deref() != Some(why.as_str()) {
                            tracing::warn!(feed = %url, error = %why, "a feed cannot be read (logged once while it lasts)");
                        }
                        let since = match live.lock().ok().and_then(|l| l.feeds.get(&url).cloned()) {
                            Some(FeedState::Failing { since, .. }) => since,
                            _ => Utc::now(),
                        };
                        t.failing = Some(why.clone());
                        match &e {
                            FetchError::Gone => {
                                t.validators.gone = Some(why);
                                set_state(&live, &url, FeedState::Stopped { why: e });
                                let batch = SourceBatch {
                                    source: source_key(&url),
                                    cursor: Some(serde_json::to_string(&t.validators)?),
                                    ..SourceBatch::default()
                                };
                                if !source::send(&tx, &cancel, batch).await {
                                    return Ok(());
                                }
                                continue;
                            }
                            e => t.next = Instant::now() + wait_after(e, &mut t.backoff, interval, &mut rng),
                        }
                        set_state(&live, &url, FeedState::Failing { why: e, since });
                    }
                }
                if once {
                    t.next = Instant::now() + Duration::from_secs(365 * 86_400);
                }
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// How long a feed waits after a failed poll: what a 429 or 503 asked (a day at the most),
/// a growing wait for the network's or the site's passing trouble, the usual interval for
/// the feed's own (a 404, a malformed feed).
fn wait_after(
    e: &FetchError,
    backoff: &mut Backoff,
    interval: Duration,
    rng: &mut rand::rngs::SmallRng,
) -> Duration {
    match e {
        FetchError::RetryAfter { wait: Some(w), .. } => (*w).min(Duration::from_secs(86_400)),
        e if e.transient() => backoff.next_wait(),
        _ => jittered(interval, rng),
    }
}

/// `d` a tenth more or less, at random.
fn jittered(d: Duration, rng: &mut rand::rngs::SmallRng) -> Duration {
    d.mul_f64(rng.gen_range(0.9..1.1))
}

fn set_state(live: &Mutex<LiveSources>, url: &str, state: FeedState) {
    if let Ok(mut l) = live.lock() {
        l.feeds.insert(url.to_string(), state);
    }
}

#[cfg(test)]
mod tests;
