//! Ingest: posts from sources (files, X recent search and stream, Bluesky Jetstream) through
//! the watcher into the store, each post counted once.
//!
//! [`Ingestor`] is the single writer of the store's ingest data. Per post: skip it if its
//! dedup key was seen (two sources, an overlap after a restart, a retweet), else classify it,
//! count it in the hourly counters (every post in `*`, mentions per entity) and keep it when
//! it names a watched entity. [`Ingestor::commit`] writes the batch and the source's cursor in
//! one atomic store batch, so a crash between batches loses nothing acknowledged and counts
//! nothing twice: the source resumes from the last committed cursor.

pub mod bluesky;
pub mod feeds;
pub mod file;
pub mod html;
pub mod instagram;
pub mod mastodon;
pub mod pipeline;
pub mod source;
pub mod x;
pub mod xwire;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Label, Post};
use crate::store::{dedup_hash, Counts, IngestBatch, Store, StoredPost, ALL_POSTS, SLOT_SECS};
use crate::watch::{cue_texts, Scratch, Watcher};

/// The retention periods of a configuration, for [`Store::apply_retention`]: alert slots
/// are kept as long as the alerts' baseline reads them, and a day more.
pub fn retention(config: &crate::config::Config) -> crate::store::Retention {
    crate::store::Retention {
        posts_days: config.store.posts_retention_days,
        counters_days: config.store.counters_retention_days,
        buckets_days: config.alerts.history_days + 1,
    }
}

/// What an ingest run counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestStats {
    /// Posts read.
    pub posts: u64,
    /// Of those, already seen.
    pub duplicates: u64,
    /// New posts naming a watched entity (kept).
    pub kept: u64,
    /// Of those, critical.
    pub critical: u64,
    /// Lines or items that were not posts, by source and kind.
    pub bad: BTreeMap<(String, String), u64>,
    /// Posts kept with a fallback (an unreadable date), by source and kind.
    pub notes: BTreeMap<(String, String), u64>,
}

/// Adds one to a source's count of `kind`; whether it is the first.
fn count(map: &mut BTreeMap<(String, String), u64>, source: &str, kind: &str) -> bool {
    let n = map
        .entry((source.to_string(), kind.to_string()))
        .or_insert(0);
    *n += 1;
    *n == 1
}

/// Minutes of seen hashes kept in memory before the cache is emptied.
const SEEN_CACHE_MINUTES: usize = 4096;
/// Seen hashes kept in memory before the cache is emptied (about 5 MB): a stream of 2,000
/// posts a second fills it in about two minutes.
const SEEN_CACHE_HASHES: usize = 1 << 18;

/// Writes batches on a thread of its own, so that classifying the next batch and writing
/// this one overlap; the bounded channel holds the classifier back when the store lags.
struct Writer {
    tx: std::sync::mpsc::SyncSender<ToWriter>,
    handle: std::thread::JoinHandle<anyhow::Result<()>>,
}

/// What one committed batch added, published on [`Events`] once it is written: alerts
/// follow the stream without polling the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Mentions and critical posts per entity and minute of creation.
    pub buckets: Vec<BucketCounts>,
    /// The kept posts: entity, creation time and dedup key (the store's `posts` key parts).
    pub kept: Vec<KeptPost>,
    /// When the batch's first post entered the ingestor (to measure alert latency).
    pub read_at: Option<std::time::Instant>,
    /// The creation time (seconds) of the batch's newest post: how far the stream has got
    /// (a minute is not over when its first posts are committed); `None` when the batch
    /// brought no new post.
    pub latest: Option<i64>,
}

/// Counts of one entity (or of every post, [`ALL_POSTS`]) for one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCounts {
    /// The entity's name, or [`ALL_POSTS`] (then `mentions` counts every new post).
    pub entity: String,
    /// Minutes since the epoch (UTC), of the posts' creation.
    pub minute: i64,
    /// New posts naming it.
    pub mentions: u64,
    /// Of those, critical.
    pub critical: u64,
}

/// A post kept under one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPost {
    /// The entity's name.
    pub entity: String,
    /// When the post was created, seconds since the epoch.
    pub created_at: i64,
    /// Its dedup key.
    pub key: String,
    /// Whether it is critical.
    pub critical: bool,
}

/// Where committed batches are published. Receivers that lag lose the oldest (tokio's
/// broadcast): they can read the store's counters back.
pub type Events = tokio::sync::broadcast::Sender<std::sync::Arc<Committed>>;

/// What the writer thread is handed.
enum ToWriter {
    /// A batch to commit, and what to publish once it is written.
    Batch(Box<IngestBatch>, Option<(Events, Committed)>),
    /// Answer once every batch sent before is committed.
    Sync(std::sync::mpsc::SyncSender<()>),
}

/// Classifies posts and writes them, a batch at a time.
pub struct Ingestor<'a> {
    watcher: std::sync::Arc<Watcher>,
    store: &'a Store,
    writer: Option<Writer>,
    scratch: Scratch,
    batch: IngestBatch,
    /// Seen hashes by creation minute, loaded from the store on first use.
    seen: HashMap<i64, HashSet<u64>>,
    /// The hashes this batch saw first, by minute.
    fresh: BTreeMap<i64, Vec<u64>>,
    /// Hashes in `seen`.
    seen_len: usize,
    now: i64,
    /// Where commits are published, and what the current batch adds.
    events: Option<Events>,
    pending: HashMap<(String, i64), (u64, u64)>,
    pending_kept: Vec<KeptPost>,
    read_at: Option<std::time::Instant>,
    pending_latest: Option<i64>,
    /// What this ingestor counted so far.
    pub stats: IngestStats,
}

impl<'a> Ingestor<'a> {
    /// An ingestor writing to `store`.
    pub fn new(watcher: impl Into<std::sync::Arc<Watcher>>, store: &'a Store) -> Ingestor<'a> {
        let watcher = watcher.into();
        let writer_store = store.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel::<ToWriter>(2);
        let handle = std::thread::Builder::new()
            .name("veille-store-writer".into())
            .spawn(move || -> anyhow::Result<()> {
                for msg in rx {
                    match msg {
                        ToWriter::Batch(batch, publish) => {
                            writer_store.commit_ingest(&batch)?;
                            if let Some((source, _)) = &batch.cursor {
                                tracing::debug!(source, "batch committed");
                            }
                            if let Some((events, committed)) = publish {
                                // No receiver is not an error: nobody listens yet.
                                let _ = events.send(std::sync::Arc::new(committed));
                            }
                        }
                        ToWriter::Sync(done) => {
                            let _ = done.send(());
                        }
                    }
                }
                Ok(())
            })
            .expect("the store writer thread starts");
        Ingestor {
            watcher,
            store,
            writer: Some(Writer { tx, handle }),
            scratch: Scratch::default(),
            batch: IngestBatch::default(),
            seen: HashMap::new(),
            fresh: BTreeMap::new(),
            seen_len: 0,
            now: chrono::Utc::now().timestamp(),
            events: None,
            pending: HashMap::new(),
            pending_kept: Vec::new(),
            read_at: None,
            pending_latest: None,
            stats: IngestStats::default(),
        }
    }

    /// Publishes what each commit adds on `events`, once written.
    pub fn with_events(mut self, events: Events) -> Ingestor<'a> {
        self.events = Some(events);
        self
    }

    /// Takes one post into the current batch.
    pub fn process(&mut self, post: Post) -> anyhow::Result<()> {
        self.stats.posts += 1;
        let key = post.dedup_key();
        let minute = post.created_at.timestamp().div_euclid(60);
        let hash = dedup_hash(&key);
        if !self.seen.contains_key(&minute) {
            let block = self.store.seen_block(minute)?;
            self.seen_len += block.len();
            self.seen.insert(minute, block.into_iter().collect());
        }
        let block = self.seen.get_mut(&minute).expect("just loaded");
        if !block.insert(hash) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        self.seen_len += 1;
        self.fresh.entry(minute).or_default().push(hash);
        if post.platform == feeds::PLATFORM {
            self.batch
                .first_seen
                .push((hash, post.created_at.timestamp()));
        }
        let outcome = self
            .watcher
            .analyze(&post.text, post.lang.as_deref(), &mut self.scratch);
        let mut entities = self.watcher.matcher().names(&self.scratch.hits);
        if let Some(about) = &post.about {
            // A post about a watched name by where it was published (a comment under the
            // team's own post) counts for it, named or not.
            let folded = crate::watch::fold::fold(about);
            if let Some(e) = self
                .watcher
                .matcher()
                .entities()
                .iter()
                .find(|e| crate::watch::fold::fold(&e.name) == folded)
            {
                if !entities.contains(&e.name) {
                    entities.push(e.name.clone());
                }
            }
        }
        let hour = post.created_at.timestamp().div_euclid(3600);
        let slot = post.created_at.timestamp().div_euclid(SLOT_SECS);
        let named = !entities.is_empty();
        let critical = named && outcome.critical;
        self.batch
            .counts
            .entry((ALL_POSTS.to_string(), hour))
            .or_default()
            .add(Counts {
                posts: 1,
                mentioning: named as u64,
                critical: critical as u64,
            });
        self.batch
            .slots
            .entry((ALL_POSTS.to_string(), slot))
            .or_default()
            .posts += 1;
        for e in &entities {
            self.batch
                .counts
                .entry((e.clone(), hour))
                .or_default()
                .add(Counts {
                    posts: 1,
                    mentioning: 1,
                    critical: outcome.critical as u64,
                });
            let s = self.batch.slots.entry((e.clone(), slot)).or_default();
            s.posts += 1;
            s.critical += outcome.critical as u32;
        }
        if self.events.is_some() {
            self.read_at.get_or_insert_with(std::time::Instant::now);
            let at = post.created_at.timestamp();
            self.pending_latest = Some(self.pending_latest.map_or(at, |t| t.max(at)));
            self.pending
                .entry((ALL_POSTS.to_string(), minute))
                .or_default()
                .0 += 1;
            for e in &entities {
                let slot = self.pending.entry((e.clone(), minute)).or_default();
                slot.0 += 1;
                slot.1 += outcome.critical as u64;
                self.pending_kept.push(KeptPost {
                    entity: e.clone(),
                    created_at: post.created_at.timestamp(),
                    key: key.clone(),
                    critical: outcome.critical,
                });
            }
        }
        if named {
            self.stats.kept += 1;
            self.stats.critical += critical as u64;
            self.batch.kept.push((
                key.clone(),
                StoredPost {
                    label: if outcome.critical {
                        Label::Critical
                    } else {
                        Label::Neutral
                    },
                    score: outcome.score,
                    cues: cue_texts(&self.scratch),
                    entities,
                    stored_at: self.now,
                    post,
                },
            ));
        }
        Ok(())
    }

    /// Counts `n` posts read from a billing `service` today (UTC), committed with the batch.
    pub fn billed(&mut self, service: &str, n: u64) {
        let day = chrono::Utc::now().timestamp().div_euclid(86_400);
        *self
            .batch
            .reads
            .entry((service.to_string(), day))
            .or_default() += n;
    }

    /// Decides with `watcher` from the next post on (a correction refitted the model, or the
    /// watched names changed): the sources go on, nothing restarts.
    pub fn set_watcher(&mut self, watcher: std::sync::Arc<Watcher>) {
        self.watcher = watcher;
    }

    /// Removes the kept text of a post deleted where it was published (its counts stay):
    /// after every batch handed over so far is written, so that a post kept moments ago is
    /// found too.
    pub fn redact(&mut self, key: &str, created_at: i64) -> anyhow::Result<usize> {
        self.sync()?;
        let names: Vec<String> = self
            .watcher
            .matcher()
            .entities()
            .iter()
            .map(|e| e.name.clone())
            .collect();
        self.store.redact_kept(&names, created_at, key)
    }

    /// Waits for every committed batch to be written, and flushes the store.
    pub fn finish(mut self) -> anyhow::Result<IngestStats> {
        self.finish_writer()?;
        self.store.flush()?;
        Ok(std::mem::take(&mut self.stats))
    }

    fn finish_writer(&mut self) -> anyhow::Result<()> {
        if let Some(w) = self.writer.take() {
            drop(w.tx);
            w.handle
                .join()
                .map_err(|_| anyhow::anyhow!("the store writer panicked"))??;
        }
        Ok(())
    }

    /// Counts a line or item that is not a post; logs the first of each kind per source.
    pub fn bad(&mut self, source: &str, kind: &str, detail: &str) {
        if count(&mut self.stats.bad, source, kind) {
            tracing::warn!(
                source,
                kind,
                detail,
                "skipping input that is not a post (logged once per kind)"
            );
        }
    }

    /// Counts a post kept with a fallback; the first of each kind per source is logged.
    pub fn note(&mut self, source: &str, kind: &str, detail: &str) {
        if count(&mut self.stats.notes, source, kind) {
            tracing::warn!(
                source,
                kind,
                detail,
                "a post was kept with a fallback (logged once per kind)"
            );
        }
    }

    /// Hands the batch, with the source's cursor, to the writer. It is durable once
    /// [`Ingestor::finish`] (or [`Ingestor::sync`]) returned.
    pub fn commit(&mut self, cursor: Option<(String, String)>) -> anyhow::Result<()> {
        self.batch.cursor = cursor;
        self.batch.seen_blocks = std::mem::take(&mut self.fresh).into_iter().collect();
        let batch = std::mem::take(&mut self.batch);
        let publish = self.events.clone().map(|events| {
            let mut buckets: Vec<BucketCounts> = self
                .pending
                .drain()
                .map(|((entity, minute), (mentions, critical))| BucketCounts {
                    entity,
                    minute,
                    mentions,
                    critical,
                })
                .collect();
            buckets.sort_by(|a, b| (a.minute, &a.entity).cmp(&(b.minute, &b.entity)));
            let kept = std::mem::take(&mut self.pending_kept);
            let read_at = self.read_at.take();
            (
                events,
                Committed {
                    buckets,
                    kept,
                    read_at,
                    latest: self.pending_latest.take(),
                },
            )
        });
        self.send(ToWriter::Batch(Box::new(batch), publish))?;
        // A bounded cache: a long replay moves on through time, a busy stream fills minutes
        // fast. The seen blocks of batches still on their way to the writer are not in the
        // store yet: wait for them before forgetting, or a post of those minutes would be
        // counted again.
        if self.seen.len() > SEEN_CACHE_MINUTES || self.seen_len > SEEN_CACHE_HASHES {
            self.sync()?;
            self.seen.clear();
            self.seen_len = 0;
        }
        self.now = chrono::Utc::now().timestamp();
        Ok(())
    }

    /// Waits until every batch committed so far is written to the store.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.send(ToWriter::Sync(done_tx))?;
        if done_rx.recv().is_err() {
            self.finish_writer()?;
            anyhow::bail!("the store writer stopped");
        }
        Ok(())
    }

    fn send(&mut self, msg: ToWriter) -> anyhow::Result<()> {
        let sent = self.writer.as_ref().is_some_and(|w| w.tx.send(msg).is_ok());
        if !sent {
            // The writer stopped: its error says why.
            self.finish_writer()?;
            anyhow::bail!("the store writer stopped");
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{EntityKind, EntitySpec};
    use crate::watch::classifier::Tuning;
    use crate::watch::lexicon::Lexicon;

    fn post(id: &str, text: &str, at: &str) -> Post {
        Post {
            platform: "x".into(),
            id: id.into(),
            original_id: None,
            text: text.into(),
            created_at: at.parse().expect("date"),
            author: None,
            lang: None,
            url: None,
            metrics: None,
            about: None,
        }
    }

    /// A watcher of SNCF (`@SNCF`), for tests.
    pub(crate) fn watcher() -> Watcher {
        Watcher::new(
            &[EntitySpec {
                name: "SNCF".into(),
                kind: EntityKind::Brand,
                aliases: vec!["@SNCF".into()],
                ambiguous: false,
                exclude: Vec::new(),
            }],
            Lexicon::bundled(),
            Tuning::default(),
        )
    }

    #[test]
    fn posts_are_counted_kept_and_deduplicated() {
        let store = Store::temporary().expect("store");
        let w = watcher();
        let mut ing = Ingestor::new(w.clone(), &store);
        ing.process(post(
            "1",
            "@SNCF encore en retard, une honte",
            "2024-05-01T10:10:00Z",
        ))
        .expect("p");
        ing.process(post("2", "Beau temps", "2024-05-01T10:20:00Z"))
            .expect("p");
        ing.process(post(
            "1",
            "@SNCF encore en retard, une honte",
            "2024-05-01T10:10:00Z",
        ))
        .expect("dup in batch");
        ing.commit(Some(("test".into(), "2".into())))
            .expect("commit");
        ing.process(post("2", "Beau temps", "2024-05-01T10:20:00Z"))
            .expect("dup across batches");
        ing.process(post("3", "Merci @SNCF", "2024-05-01T11:00:00Z"))
            .expect("p");
        ing.commit(None).expect("commit");
        let stats = ing.finish().expect("written");
        assert_eq!(
            (stats.posts, stats.duplicates, stats.kept, stats.critical),
            (5, 2, 2, 1)
        );
        let hour = |s: &str| {
            s.parse::<chrono::DateTime<chrono::Utc>>()
                .expect("date")
                .timestamp()
                / 3600
        };
        let all = store.counts(ALL_POSTS, 0, i64::MAX / 4).expect("counts");
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0],
            (
                hour("2024-05-01T10:00:00Z"),
                Counts {
                    posts: 2,
                    mentioning: 1,
                    critical: 1
                }
            )
        );
        let sncf = store.counts("SNCF", 0, i64::MAX / 4).expect("counts");
        assert_eq!(sncf.iter().map(|(_, c)| c.posts).sum::<u64>(), 2);
        let kept = store.mentions("SNCF", 0, i64::MAX / 4).expect("mentions");
        // A second ingestor (a restart) still sees them.
        let mut again = Ingestor::new(w.clone(), &store);
        again
            .process(post("3", "Merci @SNCF", "2024-05-01T11:00:00Z"))
            .expect("p");
        assert_eq!(again.stats.duplicates, 1);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].label, Label::Critical);
        assert!(kept[0].cues.contains(&"honte".to_string()));
        assert_eq!(store.cursor("test").expect("cursor").as_deref(), Some("2"));
        assert_eq!(store.scopes().expect("scopes"), ["*", "SNCF"]);
    }

    #[test]
    fn each_commit_is_published_once_written() {
        let store = Store::temporary().expect("store");
        let w = watcher();
        let (tx, mut rx) = tokio::sync::broadcast::channel(8);
        let mut ing = Ingestor::new(w.clone(), &store).with_events(tx);
        ing.process(post("1", "@SNCF une honte", "2024-05-01T10:10:30Z"))
            .expect("p");
        ing.process(post("2", "@SNCF merci", "2024-05-01T10:10:50Z"))
            .expect("p");
        ing.process(post("3", "rien", "2024-05-01T10:11:00Z"))
            .expect("p");
        ing.commit(None).expect("commit");
        ing.sync().expect("written");
        let got = rx.try_recv().expect("published");
        let minute = "2024-05-01T10:10:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("date")
            .timestamp()
            / 60;
        assert_eq!(
            got.buckets,
            [
                BucketCounts {
                    entity: ALL_POSTS.into(),
                    minute,
                    mentions: 2,
                    critical: 0
                },
                BucketCounts {
                    entity: "SNCF".into(),
                    minute,
                    mentions: 2,
                    critical: 1
                },
                BucketCounts {
                    entity: ALL_POSTS.into(),
                    minute: minute + 1,
                    mentions: 1,
                    critical: 0
                },
            ]
        );
        let slots = store.slots(0, i64::MAX / 4).expect("slots");
        assert_eq!(slots.len(), 1, "one 5-minute slot");
        assert_eq!(slots[0].1["*"].posts, 3);
        assert_eq!(
            (slots[0].1["SNCF"].posts, slots[0].1["SNCF"].critical),
            (2, 1)
        );
        assert_eq!(got.kept.len(), 2);
        assert!(got.kept[0].critical && got.kept[0].key == "x:1");
        // Published after the write: the store already has it.
        assert_eq!(
            store.mentions("SNCF", 0, i64::MAX / 4).expect("read").len(),
            2
        );
        ing.commit(None).expect("empty commit");
        ing.finish().expect("finish");
        assert!(rx.try_recv().expect("published").buckets.is_empty());
    }

    #[test]
    fn retention_prunes_old_posts_and_counters() {
        let store = Store::temporary().expect("store");
        let w = watcher();
        let mut ing = Ingestor::new(w.clone(), &store);
        ing.process(post("1", "@SNCF bravo", "2024-05-01T10:10:00Z"))
            .expect("p");
        ing.commit(None).expect("commit");
        ing.finish().expect("written");
        let now = chrono::Utc::now().timestamp();
        let (posts, counters) = store.prune(now + 10, 0, 0).expect("prune");
        assert_eq!((posts, counters), (1, 0));
        assert!(store
            .mentions("SNCF", 0, i64::MAX / 4)
            .expect("mentions")
            .is_empty());
        let minute = "2024-05-01T10:10:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("date")
            .timestamp()
            / 60;
        assert_eq!(
            store.seen_block(minute).expect("seen").len(),
            1,
            "seen keys outlive kept posts"
        );
        let (_, counters) = store.prune(0, i64::MAX / 8, 0).expect("prune");
        assert_eq!(counters, 1, "one row an hour holds every scope");
        assert!(store.seen_block(minute).expect("seen").is_empty());
    }
}
