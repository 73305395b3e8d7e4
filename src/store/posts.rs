//! The kept posts and what ingest counts.
//!
//! Trees:
//! - `posts`: `ENTITY \0 CREATED \0 KEY` → stored-at seconds (8 bytes) then JSON
//!   [`StoredPost`]: the kept posts by entity and time (a post naming two entities is kept
//!   under each);
//! - `state`: `s/MINUTE/ID` → 64-bit hashes of the dedup keys of posts created that minute,
//!   those one batch saw first (a chunk a batch and minute, not one key a post: sled costs
//!   microseconds a key; appended, never rewritten: a busy minute is not written again at
//!   every batch; stores written before chunks hold one whole `s/MINUTE` block),
//!   `c/HOUR` the hour's counters of every scope (→ JSON `{"SCOPE": [posts, mentioning,
//!   critical]}`: one value an hour, not one a scope), `b/SLOT` the counts of 5-minute
//!   slots that alerts sum into their buckets (→ JSON `{"SCOPE": [posts, critical]}`, `*`
//!   counting every post), `k/SOURCE` cursors, `r/SERVICE/DAY` the posts a billing service
//!   (X) read that UTC day, `f/HASH` the time first given to a post
//!   whose own time is not stable (a web feed's item, which another feed may date
//!   differently or a later poll may not date at all), so that it is counted once.
//!
//! [`Store::commit_ingest`] writes a batch's kept posts first (idempotent: the same key gets
//! the same value), then its seen blocks, counters and cursor in ONE `sled::Batch` (atomic
//! within a tree): a crash between the two leaves posts of an unacknowledged batch, which the
//! source replays, and nothing is counted twice. Only the ingest pipeline writes these trees;
//! a batch is made durable by [`Store::flush`] (the pipeline flushes before it acknowledges).

use anyhow::Context;

use super::{prefixed, remove_all, time_key, time_of, Store};
use crate::model::{Label, Post};

/// How long kept posts and counters are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Kept posts are deleted this many days after they were stored.
    pub posts_days: u32,
    /// Counters and seen blocks are deleted this many days after their hour.
    pub counters_days: u32,
    /// Alert buckets are deleted this many days after their time (the baseline's history).
    pub buckets_days: u32,
}

/// A post the watcher kept (it names a watched entity), with its verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredPost {
    /// The post.
    pub post: Post,
    /// Neutral or critical.
    pub label: Label,
    /// How critical, 0 to 1.
    pub score: f32,
    /// The cues that made it critical.
    pub cues: Vec<String>,
    /// The watched entities it names.
    pub entities: Vec<String>,
    /// When it was stored (seconds since the epoch).
    pub stored_at: i64,
}

/// Counts for one scope (an entity, or `*` for every post) and one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Posts: every post for `*`, the posts naming the entity otherwise.
    pub posts: u64,
    /// Posts naming a watched entity (equal to `posts` for an entity).
    pub mentioning: u64,
    /// Critical posts among those naming a watched entity.
    pub critical: u64,
}

impl Counts {
    /// Adds `other` in.
    pub fn add(&mut self, other: Counts) {
        self.posts += other.posts;
        self.mentioning += other.mentioning;
        self.critical += other.critical;
    }
}

/// The hours of counters read back from a [`Store::all_counts`] scan.
#[derive(Debug, Default)]
pub struct CountsScan {
    /// Each readable hour (hours since the epoch) with every scope's counts.
    pub hours: Vec<(i64, std::collections::BTreeMap<String, Counts>)>,
    /// Hours whose stored value cannot be read: damaged, never taken for zeros.
    pub corrupt: Vec<i64>,
}

/// Hours of counters whose stored value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store's counters are damaged for {}: they are left as they are, not counted as zero", hour_list(.hours))]
pub struct CorruptCounters {
    /// The hours, since the epoch.
    pub hours: Vec<i64>,
}

/// `2024-05-01 10:00 UTC, …` for hours since the epoch.
pub fn hour_list(hours: &[i64]) -> String {
    hours
        .iter()
        .map(|h| {
            chrono::DateTime::from_timestamp(h * 3600, 0)
                .map(|t| t.format("%Y-%m-%d %H:00 UTC").to_string())
                .unwrap_or_else(|| format!("hour {h}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scope of the counters of every post.
pub const ALL_POSTS: &str = "*";

/// The length of the slots the store counts for alerts, in seconds: alert buckets are made
/// of whole slots.
pub const SLOT_SECS: i64 = 300;

/// Counts of one scope in one slot: posts (mentions for an entity) and critical posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotCounts {
    /// Posts naming the entity (every post for `*`).
    pub posts: u32,
    /// Of those, critical.
    pub critical: u32,
}

/// Slots (since the epoch, [`SLOT_SECS`] each) and their counts by scope.
pub type SlotScan = Vec<(i64, std::collections::BTreeMap<String, SlotCounts>)>;

/// What one ingest batch writes.
#[derive(Debug, Default)]
pub struct IngestBatch {
    /// The hashes this batch saw first, by creation minute (minutes since the epoch): each
    /// minute's are appended to what the store holds for it, never rewritten.
    pub seen_blocks: Vec<(i64, Vec<u64>)>,
    /// Kept posts by dedup key.
    pub kept: Vec<(String, StoredPost)>,
    /// Counter increments by scope and hour (hours since the epoch).
    pub counts: std::collections::HashMap<(String, i64), Counts>,
    /// Slot increments by scope and 5-minute slot ([`SLOT_SECS`]): posts and critical posts.
    pub slots: std::collections::HashMap<(String, i64), SlotCounts>,
    /// The source's cursor after the batch.
    pub cursor: Option<(String, String)>,
    /// The time given to new posts whose own time is not stable, by the hash of their dedup
    /// key (see [`Store::first_seen`]).
    pub first_seen: Vec<(u64, i64)>,
    /// Posts a billing service read, by service and UTC day (days since the epoch): added to
    /// what the store counted that day ([`Store::reads`]).
    pub reads: std::collections::BTreeMap<(String, i64), u64>,
}

impl Store {
    /// The hashes of the dedup keys of the posts created in `minute` that were seen, sorted:
    /// every chunk the batches appended for that minute.
    pub fn seen_block(&self, minute: i64) -> anyhow::Result<Vec<u64>> {
        let mut out = Vec::new();
        for item in self.state.scan_prefix(seen_block_key(minute)) {
            let (_, v) = item?;
            out.extend(
                v.chunks_exact(8)
                    .map(|c| u64::from_be_bytes(c.try_into().expect("chunks of 8"))),
            );
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Writes one ingest batch: the kept posts, then the seen blocks, counters and cursor in
    /// one atomic batch (see the module's doc for why this order loses and doubles nothing).
    pub fn commit_ingest(&self, batch: &IngestBatch) -> anyhow::Result<()> {
        let (mut posts, mut state) = (sled::Batch::default(), sled::Batch::default());
        for (key, sp) in &batch.kept {
            let json = serde_json::to_vec(sp)?;
            let mut value = Vec::with_capacity(8 + json.len());
            value.extend_from_slice(&sp.stored_at.to_be_bytes());
            value.extend_from_slice(&json);
            let created = sp.post.created_at.timestamp();
            for e in &sp.entities {
                posts.insert(post_key(e, created, key.as_bytes()), value.clone());
            }
        }
        for (minute, hashes) in batch.seen_blocks.iter().filter(|(_, h)| !h.is_empty()) {
            // A chunk of its own: a busy minute is not written again at every batch.
            let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_be_bytes()).collect();
            state.insert(&seen_chunk_key(*minute, self.db.generate_id()?), bytes);
        }
        let mut hours: std::collections::BTreeMap<i64, Vec<(&str, Counts)>> = Default::default();
        for ((scope, hour), delta) in &batch.counts {
            hours
                .entry(*hour)
                .or_default()
                .push((scope.as_str(), *delta));
        }
        for (hour, deltas) in hours {
            let mut all = self.hour_counts(hour)?;
            for (scope, delta) in deltas {
                all.entry(scope.to_string()).or_default().add(delta);
            }
            state.insert(&counter_key(hour), encode_counts(&all));
        }
        let mut slots: std::collections::BTreeMap<i64, Vec<(&str, SlotCounts)>> =
            Default::default();
        for ((scope, slot), delta) in &batch.slots {
            slots
                .entry(*slot)
                .or_default()
                .push((scope.as_str(), *delta));
        }
        for (slot, deltas) in slots {
            let key = slot_key(slot);
            let mut all = match self.state.get(key)? {
                None => Default::default(),
                // An unreadable slot starts again rather than stopping ingest: alerts only.
                Some(v) => decode_slot(&v).unwrap_or_else(|| {
                    tracing::warn!(slot, "an alert slot could not be read; counting it afresh");
                    Default::default()
                }),
            };
            for (scope, delta) in deltas {
                let c = all.entry(scope.to_string()).or_default();
                c.posts += delta.posts;
                c.critical += delta.critical;
            }
            state.insert(&key, encode_slot(&all));
        }
        if let Some((source, cursor)) = &batch.cursor {
            state.insert(prefixed(b"k/", source.as_bytes()), cursor.as_bytes());
        }
        for (hash, at) in &batch.first_seen {
            state.insert(&first_seen_key(*hash), &at.to_be_bytes());
        }
        for ((service, day), n) in &batch.reads {
            let total = self.reads(service, *day)? + n;
            state.insert(reads_key(service, *day), &total.to_be_bytes());
        }
        self.posts
            .apply_batch(posts)
            .context("writing kept posts")?;
        self.state
            .apply_batch(state)
            .context("writing counters and cursor")?;
        Ok(())
    }

    /// A source's cursor.
    pub fn cursor(&self, source: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .state
            .get(prefixed(b"k/", source.as_bytes()))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The time first given to the post whose dedup key hashes to `hash`, if it was stored
    /// with one ([`IngestBatch::first_seen`]): a source gives it the same time again, so
    /// that the store counts it once.
    pub fn first_seen(&self, hash: u64) -> anyhow::Result<Option<i64>> {
        Ok(self
            .state
            .get(first_seen_key(hash))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(i64::from_be_bytes))
    }

    /// Posts `service` read on a UTC day (days since the epoch), as committed.
    pub fn reads(&self, service: &str, day: i64) -> anyhow::Result<u64> {
        Ok(self
            .state
            .get(reads_key(service, day))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Saves a source's cursor on its own (a source with nothing to write but progress).
    pub fn set_cursor(&self, source: &str, cursor: &str) -> anyhow::Result<()> {
        self.state
            .insert(prefixed(b"k/", source.as_bytes()), cursor.as_bytes())?;
        Ok(())
    }

    /// The kept posts naming `entity`, created in `[from, to)` (seconds), oldest first.
    pub fn mentions(&self, entity: &str, from: i64, to: i64) -> anyhow::Result<Vec<StoredPost>> {
        let mut out = Vec::new();
        for item in self
            .posts
            .range(post_key(entity, from, b"")..post_key(entity, to, b""))
        {
            let (_, v) = item?;
            out.push(
                serde_json::from_slice(v.get(8..).unwrap_or_default())
                    .context("reading a stored post")?,
            );
        }
        Ok(out)
    }

    /// Removes the text of the kept post `key` created at `created_at` (seconds), under each
    /// of `entities` it was kept under, durably; its counts stay. Returns how many copies
    /// were changed.
    pub fn redact_kept(
        &self,
        entities: &[String],
        created_at: i64,
        key: &str,
    ) -> anyhow::Result<usize> {
        let mut changed = 0;
        for e in entities {
            let k = post_key(e, created_at, key.as_bytes());
            let Some(v) = self.posts.get(&k)? else {
                continue;
            };
            let mut sp: StoredPost = serde_json::from_slice(v.get(8..).unwrap_or_default())
                .context("reading a stored post")?;
            sp.post.text.clear();
            sp.cues.clear();
            let mut value = v.get(..8).unwrap_or_default().to_vec();
            value.extend_from_slice(&serde_json::to_vec(&sp)?);
            self.posts.insert(k, value)?;
            changed += 1;
        }
        if changed > 0 {
            self.posts.flush()?;
        }
        Ok(changed)
    }

    /// Every scope's counters for one hour.
    ///
    /// An hour whose value cannot be read is an error naming it ([`CorruptCounters`]): it
    /// is never taken for zeros, and so never overwritten by a commit.
    pub fn hour_counts(
        &self,
        hour: i64,
    ) -> anyhow::Result<std::collections::BTreeMap<String, Counts>> {
        match self.state.get(counter_key(hour))? {
            None => Ok(Default::default()),
            Some(v) => Ok(decode_counts(&v).ok_or(CorruptCounters { hours: vec![hour] })?),
        }
    }

    /// Every scope's counters, hour by hour, for hours in `[from, to)`: one read an hour.
    /// Hours that cannot be read are listed apart, for the caller to report. A scan of the
    /// whole range: call it off the async runtime (`spawn_blocking`).
    pub fn all_counts(&self, from: i64, to: i64) -> anyhow::Result<CountsScan> {
        let mut out = CountsScan::default();
        for item in self.state.range(counter_key(from)..counter_key(to)) {
            let (k, v) = item?;
            let hour = time_of(&k[2..]);
            match decode_counts(&v) {
                Some(c) => out.hours.push((hour, c)),
                None => out.corrupt.push(hour),
            }
        }
        Ok(out)
    }

    /// The counters of `scope`, hour by hour, for hours in `[from, to)` (hours since the epoch).
    /// Fails on an hour that cannot be read.
    pub fn counts(&self, scope: &str, from: i64, to: i64) -> anyhow::Result<Vec<(i64, Counts)>> {
        let scan = self.all_counts(from, to)?;
        if !scan.corrupt.is_empty() {
            return Err(CorruptCounters {
                hours: scan.corrupt,
            }
            .into());
        }
        Ok(scan
            .hours
            .into_iter()
            .filter_map(|(h, mut c)| c.remove(scope).map(|c| (h, c)))
            .collect())
    }

    /// Every scope's slot counts for slots in `[from, to)` (slots since the epoch), in order;
    /// unreadable slots are passed over. A range scan (blocking).
    pub fn slots(&self, from: i64, to: i64) -> anyhow::Result<SlotScan> {
        let mut out = Vec::new();
        for item in self.state.range(slot_key(from)..slot_key(to)) {
            let (k, v) = item?;
            if let Some(c) = decode_slot(&v) {
                out.push((time_of(&k[2..]), c));
            }
        }
        Ok(out)
    }

    /// Every scope's counts for one slot; an unreadable slot reads as empty.
    pub fn slot(
        &self,
        slot: i64,
    ) -> anyhow::Result<std::collections::BTreeMap<String, SlotCounts>> {
        Ok(self
            .state
            .get(slot_key(slot))?
            .and_then(|v| decode_slot(&v))
            .unwrap_or_default())
    }

    /// Every scope that has counters (the entities, and `*`), sorted; unreadable hours are
    /// passed over.
    pub fn scopes(&self) -> anyhow::Result<Vec<String>> {
        let mut out = std::collections::BTreeSet::new();
        for item in self.state.scan_prefix(b"c/") {
            let (_, v) = item?;
            out.extend(decode_counts(&v).unwrap_or_default().into_keys());
        }
        Ok(out.into_iter().collect())
    }

    /// Deletes kept posts stored before `posts_before` (seconds), counters and seen blocks
    /// of times before `counters_before` (hours), and alert slots before `slots_before`
    /// (slots); returns how many posts and counter rows went.
    pub fn prune(
        &self,
        posts_before: i64,
        counters_before: i64,
        slots_before: i64,
    ) -> anyhow::Result<(usize, usize)> {
        // A post is stored after it is made: only those made before the cutoff (and a day
        // later, for a post dated ahead of the clock) can be due. Each name's range up to
        // there is read, not the whole tree: sled keeps some metadata in memory for every
        // page it ever read, so an hourly read of every kept post would hold the whole store's.
        let until = time_key(posts_before.saturating_add(AHEAD_SECS));
        let mut old_posts = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        while let Some(first) = self.posts.range(from.as_slice()..).keys().next() {
            let first = first?;
            let entity = first.split(|b| *b == 0).next().unwrap_or_default();
            let mut end = entity.to_vec();
            end.push(0);
            end.extend_from_slice(&until);
            for item in self.posts.range(first.as_ref()..end.as_slice()) {
                let (k, v) = item?;
                let stored = v
                    .get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, i64::from_be_bytes);
                if stored < posts_before {
                    old_posts.push(k);
                }
            }
            // The next name: the first key past every key of this one.
            from = entity.to_vec();
            from.push(1);
        }
        remove_all(&self.posts, &old_posts)?;
        let lo = seen_block_key(i64::MIN / 2);
        let hi = seen_block_key(counters_before.saturating_mul(60));
        let old_seen: Vec<sled::IVec> =
            self.state.range(lo..hi).keys().collect::<Result<_, _>>()?;
        remove_all(&self.state, &old_seen)?;
        let old_counters: Vec<sled::IVec> = self
            .state
            .range(counter_key(i64::MIN / 2)..counter_key(counters_before))
            .keys()
            .collect::<Result<_, _>>()?;
        let counters = old_counters.len();
        remove_all(&self.state, &old_counters)?;
        let old_slots: Vec<sled::IVec> = self
            .state
            .range(slot_key(i64::MIN / 2)..slot_key(slots_before))
            .keys()
            .collect::<Result<_, _>>()?;
        remove_all(&self.state, &old_slots)?;
        let mut old_first: Vec<sled::IVec> = Vec::new();
        for item in self.state.scan_prefix(b"f/") {
            let (k, v) = item?;
            let at = <[u8; 8]>::try_from(v.as_ref()).map_or(0, i64::from_be_bytes);
            if at.div_euclid(3600) < counters_before {
                old_first.push(k);
            }
        }
        remove_all(&self.state, &old_first)?;
        self.flush()?;
        Ok((old_posts.len(), counters))
    }

    /// Applies `retention` from now; returns the posts and counter rows deleted. A scan of
    /// the kept posts (blocking).
    pub fn apply_retention(&self, retention: Retention) -> anyhow::Result<(usize, usize)> {
        let now = chrono::Utc::now().timestamp();
        let posts_before = now - i64::from(retention.posts_days) * 86_400;
        let counters_before = (now - i64::from(retention.counters_days) * 86_400).div_euclid(3600);
        let slots_before = (now - i64::from(retention.buckets_days) * 86_400).div_euclid(SLOT_SECS);
        self.prune(posts_before, counters_before, slots_before)
    }
}

/// How far ahead of the clock a post may be dated and still be pruned on time: one made
/// later than this after it was stored waits for its own date to pass the cutoff.
const AHEAD_SECS: i64 = 86_400;

/// The prefix of a minute's seen chunks (and the key of a whole block, as stores written
/// before chunks hold them).
fn seen_block_key(minute: i64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(b"s/");
    k[2..].copy_from_slice(&time_key(minute));
    k
}

/// One chunk of a minute's seen hashes; `id` is unique in the store (sled's id generator).
fn seen_chunk_key(minute: i64, id: u64) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..10].copy_from_slice(&seen_block_key(minute));
    k[10..].copy_from_slice(&id.to_be_bytes());
    k
}

fn post_key(entity: &str, created_at: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(entity.len() + key.len() + 10);
    k.extend_from_slice(entity.as_bytes());
    k.push(0);
    k.extend_from_slice(&time_key(created_at));
    k.push(0);
    k.extend_from_slice(key);
    k
}

fn reads_key(service: &str, day: i64) -> Vec<u8> {
    let mut k = prefixed(b"r/", service.as_bytes());
    k.push(b'/');
    k.extend_from_slice(&time_key(day));
    k
}

fn first_seen_key(hash: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(b"f/");
    k[2..].copy_from_slice(&hash.to_be_bytes());
    k
}

fn slot_key(slot: i64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(b"b/");
    k[2..].copy_from_slice(&time_key(slot));
    k
}

fn encode_slot(all: &std::collections::BTreeMap<String, SlotCounts>) -> Vec<u8> {
    let map: std::collections::BTreeMap<&str, [u32; 2]> = all
        .iter()
        .map(|(s, c)| (s.as_str(), [c.posts, c.critical]))
        .collect();
    serde_json::to_vec(&map).expect("a map of numbers serialises")
}

fn decode_slot(v: &[u8]) -> Option<std::collections::BTreeMap<String, SlotCounts>> {
    let map: std::collections::BTreeMap<String, [u32; 2]> = serde_json::from_slice(v).ok()?;
    Some(
        map.into_iter()
            .map(|(s, [posts, critical])| (s, SlotCounts { posts, critical }))
            .collect(),
    )
}

fn counter_key(hour: i64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(b"c/");
    k[2..].copy_from_slice(&time_key(hour));
    k
}

/// One hour's counters: `{"SCOPE": [posts, mentioning, critical], …}`.
fn encode_counts(all: &std::collections::BTreeMap<String, Counts>) -> Vec<u8> {
    let map: std::collections::BTreeMap<&str, [u64; 3]> = all
        .iter()
        .map(|(k, c)| (k.as_str(), [c.posts, c.mentioning, c.critical]))
        .collect();
    serde_json::to_vec(&map).expect("a map of numbers serialises")
}

fn decode_counts(v: &[u8]) -> Option<std::collections::BTreeMap<String, Counts>> {
    let map: std::collections::BTreeMap<String, [u64; 3]> = serde_json::from_slice(v).ok()?;
    Some(
        map.into_iter()
            .map(|(k, [posts, mentioning, critical])| {
                (
                    k,
                    Counts {
                        posts,
                        mentioning,
                        critical,
                    },
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_s_seen_hashes_are_appended_never_rewritten_and_read_whole() {
        let store = Store::temporary().expect("store");
        let minute = 29_000_000;
        // A block written whole, as stores did before chunks, then two batches.
        store
            .state
            .insert(seen_block_key(minute), &7u64.to_be_bytes()[..])
            .expect("poke");
        for hashes in [vec![3, 9], vec![1]] {
            let batch = IngestBatch {
                seen_blocks: vec![(minute, hashes), (minute + 1, Vec::new())],
                ..IngestBatch::default()
            };
            store.commit_ingest(&batch).expect("commit");
        }
        assert_eq!(store.seen_block(minute).expect("seen"), [1, 3, 7, 9]);
        assert!(store.seen_block(minute + 1).expect("seen").is_empty());
        let values: Vec<usize> = store
            .state
            .scan_prefix(b"s/")
            .values()
            .map(|v| v.expect("value").len())
            .collect();
        assert_eq!(values, [8, 16, 8], "the block, then one chunk a batch");
        store.prune(0, minute / 60 + 1, 0).expect("prune");
        assert!(store.seen_block(minute).expect("seen").is_empty());
    }

    #[test]
    fn pruning_takes_the_posts_stored_before_the_cutoff_of_every_name_and_only_those() {
        let store = Store::temporary().expect("store");
        let cutoff = 1_780_000_000;
        let day = 86_400;
        // (name, made, stored, due): an old post; an old post imported lately; a recent one;
        // one dated two hours ahead of the clock that stored it before the cutoff.
        let posts = [
            ("Albi", cutoff - 9 * day, cutoff - 9 * day, true),
            ("Albi", cutoff - 9 * day, cutoff + 60, false),
            ("Albi", cutoff + 60, cutoff + 60, false),
            ("Brest", cutoff - 3 * day, cutoff - 3 * day, true),
            ("Brest", cutoff + 3600, cutoff - 3600, true),
            ("Caen", cutoff + day, cutoff + day, false),
        ];
        let kept = posts
            .iter()
            .enumerate()
            .map(|(i, (name, made, stored, _))| {
                let post = Post {
                    platform: "x".into(),
                    id: i.to_string(),
                    original_id: None,
                    text: format!("{name} !"),
                    created_at: chrono::DateTime::from_timestamp(*made, 0).expect("time"),
                    author: None,
                    lang: None,
                    url: None,
                    metrics: None,
                    about: None,
                };
                let sp = StoredPost {
                    post,
                    label: Label::Neutral,
                    score: 0.0,
                    cues: Vec::new(),
                    entities: vec![name.to_string()],
                    stored_at: *stored,
                };
                (format!("x:{i}"), sp)
            })
            .collect();
        let batch = IngestBatch {
            kept,
            ..IngestBatch::default()
        };
        store.commit_ingest(&batch).expect("commit");
        let (pruned, _) = store.prune(cutoff, 0, 0).expect("prune");
        assert_eq!(pruned, posts.iter().filter(|p| p.3).count());
        for name in ["Albi", "Brest", "Caen"] {
            let left: Vec<i64> = store
                .mentions(name, i64::MIN / 4, i64::MAX / 4)
                .expect("mentions")
                .iter()
                .map(|p| p.stored_at)
                .collect();
            let kept_here = posts.iter().filter(|p| p.0 == name && !p.3).count();
            assert_eq!(left.len(), kept_here, "{name}: {left:?}");
            assert!(left.iter().all(|t| *t >= cutoff), "{name}: {left:?}");
        }
    }

    #[test]
    fn a_damaged_hour_of_counters_is_reported_and_never_overwritten() {
        let store = Store::temporary().expect("store");
        let hour = 475_000;
        store
            .state
            .insert(counter_key(hour), b"{not json".as_slice())
            .expect("poke");
        let scan = store.all_counts(0, i64::MAX / 8).expect("scan");
        assert_eq!(
            (scan.hours.len(), scan.corrupt.as_slice()),
            (0, &[hour][..])
        );
        let mut batch = IngestBatch::default();
        batch.counts.insert(
            ("SNCF".into(), hour),
            Counts {
                posts: 1,
                mentioning: 1,
                critical: 0,
            },
        );
        let err = store.commit_ingest(&batch).expect_err("refused");
        assert!(
            format!("{err:#}").contains("damaged for 2024-03-09 16:00 UTC"),
            "{err:#}"
        );
        assert_eq!(
            store.state.get(counter_key(hour)).expect("get").as_deref(),
            Some(&b"{not json"[..]),
            "the damaged value is left for a person to look at"
        );
    }
}
