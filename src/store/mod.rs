//! The store: a typed wrapper over sled, one tree per concept, with a schema version checked
//! at open.
//!
//! Owns key encoding and (de)serialisation; nothing else in Veille imports sled. Trees:
//! - `meta`: the schema version and one-time markers (the demo data import);
//! - `snapshots`: `platform \0 YYYY-MM \0 account-key` → JSON [`Snapshot`], so that one month
//!   of one platform is a prefix scan;
//! - `posts`: `ENTITY \0 CREATED \0 KEY` → stored-at seconds (8 bytes) then JSON
//!   [`StoredPost`]: the kept posts by entity and time (a post naming two entities is kept
//!   under each);
//! - `state`: `s/MINUTE` → the sorted 64-bit hashes of the dedup keys of the posts created that
//!   minute (one value a minute, not one key a post: sled costs microseconds a key),
//!   `c/HOUR` the hour's counters of every scope (→ JSON `{"SCOPE": [posts, mentioning,
//!   critical]}`: one value an hour, not one a scope), `b/SLOT` the counts of 5-minute
//!   slots that alerts sum into their buckets (→ JSON `{"SCOPE": [posts, critical]}`, `*`
//!   counting every post), `k/SOURCE` cursors;
//! - `alerts`: `s/ENTITY` → JSON alert state, `e/SEQ` → JSON alert event not yet delivered
//!   (the outbox), written together in one batch (see [`Store::commit_alerts`]).
//!
//! [`Store::commit_ingest`] writes a batch's kept posts first (idempotent: the same key gets
//! the same value), then its seen blocks, counters and cursor in ONE `sled::Batch` (atomic
//! within a tree): a crash between the two leaves posts of an unacknowledged batch, which the
//! source replays, and nothing is counted twice. Times are big-endian with the sign bit
//! flipped so that keys sort by time. Only the ingest pipeline writes `posts` and `state`.
//!
//! Snapshot writes are flushed before the call returns; an ingest batch is atomic and made
//! durable by [`Store::flush`] (the pipeline flushes before it acknowledges).

pub mod servers;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context};

use crate::model::{Label, Month, Post, Snapshot};
use crate::rank::catalog::Platform;

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

/// The file in the store's directory naming the process that holds it.
const PID_FILE: &str = "veille.pid";

/// Another process holds the store (sled locks it for one process).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store at {} is in use by a running veille{}; use its console, or stop it first", .path.display(), .pid.map(|p| format!(", pid {p}")).unwrap_or_default())]
pub struct StoreInUse {
    /// The store's directory.
    pub path: std::path::PathBuf,
    /// The process holding it, when it said so.
    pub pid: Option<u32>,
}

/// The schema this code reads and writes. Bump it with a migration when a key or value
/// format changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The open database.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    snapshots: sled::Tree,
    /// Kept posts by entity and time.
    posts: sled::Tree,
    /// Alert states and the outbox of alert events.
    alerts: sled::Tree,
    /// Seen blocks, counters and cursors: written in one atomic batch.
    state: sled::Tree,
    /// Per-server settings, watch lists, subscriptions and the bot's outbox (`servers.rs`).
    servers: sled::Tree,
    /// The verdicts the team corrected, by post id.
    corrections: sled::Tree,
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
    /// The whole seen set of every minute the batch added to (minutes since the epoch).
    pub seen_blocks: Vec<(i64, Vec<u64>)>,
    /// Kept posts by dedup key.
    pub kept: Vec<(String, StoredPost)>,
    /// Counter increments by scope and hour (hours since the epoch).
    pub counts: std::collections::HashMap<(String, i64), Counts>,
    /// Slot increments by scope and 5-minute slot ([`SLOT_SECS`]): posts and critical posts.
    pub slots: std::collections::HashMap<(String, i64), SlotCounts>,
    /// The source's cursor after the batch.
    pub cursor: Option<(String, String)>,
}

/// Big-endian bytes of a signed time that sort in time order.
fn time_key(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1u64 << 63)).to_be_bytes()
}

fn time_of(b: &[u8]) -> i64 {
    <[u8; 8]>::try_from(b).map_or(0, |a| (u64::from_be_bytes(a) ^ (1u64 << 63)) as i64)
}

impl Store {
    /// Opens (or creates) the store at `path` and checks its schema version.
    ///
    /// sled lets one process at a time hold a store: when another Veille holds it, the error
    /// is [`StoreInUse`], naming that process.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        anyhow::ensure!(
            !path.as_os_str().is_empty(),
            "the store path is empty: name the store's directory"
        );
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let db = match sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()
        {
            Ok(db) => db,
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                let pid = std::fs::read_to_string(path.join(PID_FILE))
                    .ok()
                    .and_then(|p| p.trim().parse().ok());
                return Err(StoreInUse {
                    path: path.to_path_buf(),
                    pid,
                }
                .into());
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("opening the store at {}", path.display())))
            }
        };
        let store =
            Store::init(db).with_context(|| format!("opening the store at {}", path.display()))?;
        // Who holds the lock, for the message another process gets.
        let _ = std::fs::write(path.join(PID_FILE), std::process::id().to_string());
        Ok(store)
    }

    /// Opens the store at `path` only if it exists: a read command does not create an
    /// empty store where the user made a typo.
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<Store>> {
        if !path.exists() {
            return Ok(None);
        }
        Store::open(path).map(Some)
    }

    /// A store that lives in memory and is deleted when dropped (for tests and the demo).
    pub fn temporary() -> anyhow::Result<Store> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .context("opening a temporary store")?;
        Store::init(db)
    }

    fn init(db: sled::Db) -> anyhow::Result<Store> {
        let meta = db.open_tree("meta")?;
        let snapshots = db.open_tree("snapshots")?;
        let posts = db.open_tree("posts")?;
        let state = db.open_tree("state")?;
        let alerts = db.open_tree("alerts")?;
        let servers = db.open_tree("servers")?;
        let corrections = db.open_tree("corrections")?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if found != SCHEMA_VERSION {
                    bail!("the store has schema version {found}, this Veille reads version {SCHEMA_VERSION}");
                }
            }
        }
        Ok(Store {
            db,
            meta,
            snapshots,
            posts,
            state,
            alerts,
            servers,
            corrections,
        })
    }

    /// Whether a one-time marker is set.
    pub fn marker(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self.meta.get(format!("marker/{name}"))?.is_some())
    }

    /// Sets a one-time marker, durably.
    pub fn set_marker(&self, name: &str) -> anyhow::Result<()> {
        self.meta.insert(format!("marker/{name}"), &[1u8])?;
        self.db.flush()?;
        Ok(())
    }

    /// Writes snapshots, durably (flushed before returning). Each is merged into what the
    /// store holds for that account and month ([`Snapshot::merge`]): figures it does not
    /// carry are kept.
    pub fn put_snapshots<'a>(
        &self,
        items: impl IntoIterator<Item = (Platform, &'a str, Month, &'a Snapshot)>,
    ) -> anyhow::Result<usize> {
        let mut merged: std::collections::BTreeMap<Vec<u8>, Snapshot> = Default::default();
        for (platform, account, month, snap) in items {
            let key = snapshot_key(platform, month, account);
            let current = match merged.remove(&key) {
                Some(s) => Some(s),
                None => self.snapshot(platform, month, account)?,
            };
            let next = match current {
                Some(mut old) => {
                    old.merge(snap);
                    old
                }
                None => snap.clone(),
            };
            merged.insert(key, next);
        }
        let mut batch = sled::Batch::default();
        let n = merged.len();
        for (key, snap) in merged {
            batch.insert(key, serde_json::to_vec(&snap)?);
        }
        self.snapshots
            .apply_batch(batch)
            .context("writing snapshots")?;
        self.db.flush().context("flushing snapshots")?;
        Ok(n)
    }

    /// The snapshot of one account for one month.
    pub fn snapshot(
        &self,
        platform: Platform,
        month: Month,
        account: &str,
    ) -> anyhow::Result<Option<Snapshot>> {
        self.snapshots
            .get(snapshot_key(platform, month, account))?
            .map(|v| serde_json::from_slice(&v).context("reading a stored snapshot"))
            .transpose()
    }

    /// Every snapshot of one platform for one month, by account key.
    pub fn month_snapshots(
        &self,
        platform: Platform,
        month: Month,
    ) -> anyhow::Result<Vec<(String, Snapshot)>> {
        let prefix = format!("{}\0{}\0", platform.id(), month);
        let mut out = Vec::new();
        for item in self.snapshots.scan_prefix(prefix.as_bytes()) {
            let (k, v) = item?;
            let account = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((
                account,
                serde_json::from_slice(&v).context("reading a stored snapshot")?,
            ));
        }
        Ok(out)
    }

    /// The months with at least one snapshot on `platform` among `accounts` (all when empty).
    pub fn months(
        &self,
        platform: Platform,
        accounts: &[String],
    ) -> anyhow::Result<BTreeSet<Month>> {
        let prefix = format!("{}\0", platform.id());
        let mut out = BTreeSet::new();
        for item in self.snapshots.scan_prefix(prefix.as_bytes()) {
            let (k, _) = item?;
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let Some((month, account)) = rest.split_once('\0') else {
                continue;
            };
            if accounts.is_empty() || accounts.iter().any(|a| a == account) {
                if let Ok(m) = month.parse() {
                    out.insert(m);
                }
            }
        }
        Ok(out)
    }

    /// The hashes of the dedup keys of the posts created in `minute` that were seen, sorted.
    pub fn seen_block(&self, minute: i64) -> anyhow::Result<Vec<u64>> {
        Ok(self
            .state
            .get(seen_block_key(minute))?
            .map(|v| {
                v.chunks_exact(8)
                    .map(|c| u64::from_be_bytes(c.try_into().expect("chunks of 8")))
                    .collect()
            })
            .unwrap_or_default())
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
        for (minute, hashes) in &batch.seen_blocks {
            let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_be_bytes()).collect();
            state.insert(&seen_block_key(*minute), bytes);
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
        let mut old_posts = Vec::new();
        for item in self.posts.iter() {
            let (k, v) = item?;
            let stored = v
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, i64::from_be_bytes);
            if stored < posts_before {
                old_posts.push(k);
            }
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

    /// Every entity's stored alert state.
    pub fn alert_states<S: serde::de::DeserializeOwned>(&self) -> anyhow::Result<Vec<(String, S)>> {
        let mut out = Vec::new();
        for item in self.alerts.scan_prefix(b"s/") {
            let (k, v) = item?;
            let entity = String::from_utf8_lossy(&k[2..]).into_owned();
            out.push((
                entity,
                serde_json::from_slice(&v).context("reading a stored alert state")?,
            ));
        }
        Ok(out)
    }

    /// Writes alert states and the events they produced in one atomic batch, durably: an
    /// event is in the outbox ([`Store::pending_alert_events`]) until acknowledged, so a
    /// restart neither repeats the state change nor loses its message. Returns the events'
    /// ids, in order.
    pub fn commit_alerts<S: serde::Serialize, E: serde::Serialize>(
        &self,
        states: &[(&str, &S)],
        events: &[E],
    ) -> anyhow::Result<Vec<u64>> {
        let mut batch = sled::Batch::default();
        for (entity, state) in states {
            batch.insert(
                prefixed(b"s/", entity.as_bytes()),
                serde_json::to_vec(state)?,
            );
        }
        let mut ids = Vec::with_capacity(events.len());
        for e in events {
            let id = self.db.generate_id()?;
            batch.insert(prefixed(b"e/", &id.to_be_bytes()), serde_json::to_vec(e)?);
            ids.push(id);
        }
        self.alerts
            .apply_batch(batch)
            .context("writing alert states")?;
        self.alerts.flush().context("flushing alert states")?;
        Ok(ids)
    }

    /// The alert events not yet acknowledged by the notifiers, oldest first.
    pub fn pending_alert_events<E: serde::de::DeserializeOwned>(
        &self,
    ) -> anyhow::Result<Vec<(u64, E)>> {
        let mut out = Vec::new();
        for item in self.alerts.scan_prefix(b"e/") {
            let (k, v) = item?;
            let id = <[u8; 8]>::try_from(&k[2..]).map_or(0, u64::from_be_bytes);
            match serde_json::from_slice(&v) {
                Ok(e) => out.push((id, e)),
                Err(e) => tracing::warn!(id, error = %e, "an unreadable alert event is skipped"),
            }
        }
        Ok(out)
    }

    /// Removes a delivered alert event from the outbox.
    pub fn ack_alert_event(&self, id: u64) -> anyhow::Result<()> {
        self.alerts.remove(prefixed(b"e/", &id.to_be_bytes()))?;
        Ok(())
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.db.flush().context("flushing the store")?;
        Ok(())
    }
}

fn prefixed(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len() + 10);
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

fn seen_block_key(minute: i64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(b"s/");
    k[2..].copy_from_slice(&time_key(minute));
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

fn remove_all(tree: &sled::Tree, keys: &[sled::IVec]) -> anyhow::Result<()> {
    for chunk in keys.chunks(10_000) {
        let mut b = sled::Batch::default();
        for k in chunk {
            b.remove(k.clone());
        }
        tree.apply_batch(b)?;
    }
    Ok(())
}

/// The 64-bit FNV-1a hash of a dedup key: what the seen blocks hold.
pub fn dedup_hash(key: &str) -> u64 {
    dedup_hash_bytes(key.as_bytes())
}

/// The 64-bit FNV-1a hash of bytes.
pub fn dedup_hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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

fn snapshot_key(platform: Platform, month: Month, account: &str) -> Vec<u8> {
    format!("{}\0{}\0{}", platform.id(), month, account).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(followers: u64) -> Snapshot {
        Snapshot {
            followers: Some(followers),
            source: "test".into(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn snapshots_round_trip_and_scan_by_month() {
        let store = Store::temporary().expect("store");
        let (m1, m2) = ("2021-05".parse().expect("m"), "2021-06".parse().expect("m"));
        store
            .put_snapshots([
                (Platform::Instagram, "gers", m1, &snap(1)),
                (Platform::Instagram, "gers", m2, &snap(2)),
                (Platform::Instagram, "paris", m2, &snap(3)),
                (Platform::Twitter, "gers", m2, &snap(4)),
            ])
            .expect("write");
        assert_eq!(
            store
                .snapshot(Platform::Instagram, m2, "gers")
                .expect("read"),
            Some(snap(2))
        );
        let june = store
            .month_snapshots(Platform::Instagram, m2)
            .expect("scan");
        assert_eq!(
            june.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
            ["gers", "paris"]
        );
        assert_eq!(
            store
                .months(Platform::Instagram, &[])
                .expect("months")
                .len(),
            2
        );
        assert_eq!(
            store
                .months(Platform::Instagram, &["paris".into()])
                .expect("months")
                .len(),
            1
        );
    }

    #[test]
    fn data_survives_a_reopen_and_a_wrong_schema_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let m: Month = "2021-06".parse().expect("m");
        {
            let store = Store::open(&path).expect("open");
            store
                .put_snapshots([(Platform::Instagram, "gers", m, &snap(7))])
                .expect("write");
            store.set_marker("demo").expect("marker");
        }
        {
            let store = Store::open(&path).expect("reopen");
            assert_eq!(
                store
                    .snapshot(Platform::Instagram, m, "gers")
                    .expect("read"),
                Some(snap(7))
            );
            assert!(store.marker("demo").expect("marker"));
            store
                .meta
                .insert("schema_version", &99u32.to_be_bytes())
                .expect("poke");
            store.flush().expect("flush");
        }
        let err = Store::open(&path).expect_err("schema 99 refused");
        assert!(format!("{err:#}").contains("schema version 99"), "{err:#}");
    }

    #[test]
    fn a_second_opener_is_told_who_holds_the_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let _first = Store::open(&path).expect("open");
        let err = Store::open(&path).expect_err("locked");
        let in_use = err.downcast_ref::<StoreInUse>().expect("StoreInUse");
        assert_eq!(in_use.pid, Some(std::process::id()));
        assert!(
            err.to_string().contains(&format!(
                "in use by a running veille, pid {}",
                std::process::id()
            )),
            "{err}"
        );
    }

    #[test]
    fn merged_snapshots_keep_the_figures_they_were_not_given() {
        let store = Store::temporary().expect("store");
        let m: Month = "2021-07".parse().expect("m");
        let mut full = snap(100);
        full.following = Some(7);
        store
            .put_snapshots([(Platform::Instagram, "gers", m, &full)])
            .expect("write");
        let mut ranks = Snapshot {
            source: "list".into(),
            ..Snapshot::default()
        };
        ranks.published_ranks.insert("departements".into(), 1);
        store
            .put_snapshots([(Platform::Instagram, "gers", m, &ranks)])
            .expect("write");
        let got = store
            .snapshot(Platform::Instagram, m, "gers")
            .expect("read")
            .expect("there");
        assert_eq!((got.followers, got.following), (Some(100), Some(7)));
        assert_eq!(got.published_ranks.get("departements"), Some(&1));
        assert_eq!(got.source, "test; list");
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
