//! The store: a typed wrapper over sled, one tree per concept, with a schema version checked
//! at open. Nothing else in Veille imports sled.
//!
//! Each file owns its trees' keys and their encoding:
//! - `mod.rs`: opening (the lock, the schema version in `meta`), one-time markers, flushing;
//! - [`posts`]: the kept posts (`posts`) and what ingest counts (`state`: seen blocks,
//!   hourly counters, alert slots, cursors), written by [`Store::commit_ingest`];
//! - [`snapshots`]: the monthly figures of ranked accounts (`snapshots`);
//! - [`alerts`]: alert states and the outbox of alert events (`alerts`);
//! - [`servers`]: each server's settings, watch list, subscriptions, and the bot's outbox
//!   (`servers`);
//! - [`corrections`]: the team's verdicts (`corrections`) and the texts verdicts were given on.
//!
//! Times in keys are big-endian with the sign bit flipped, so that keys sort by time.

pub mod alerts;
pub mod corrections;
pub mod posts;
pub mod servers;
pub mod snapshots;

use std::path::Path;

use anyhow::{bail, Context};

pub use posts::{
    hour_list, CorruptCounters, Counts, CountsScan, IngestBatch, Retention, SlotCounts, SlotScan,
    StoredPost, ALL_POSTS, SLOT_SECS,
};

/// How long an open waits for a store this process just closed to be let go.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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

/// Big-endian bytes of a signed time that sort in time order.
fn time_key(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1u64 << 63)).to_be_bytes()
}

fn time_of(b: &[u8]) -> i64 {
    <[u8; 8]>::try_from(b).map_or(0, |a| (u64::from_be_bytes(a) ^ (1u64 << 63)) as i64)
}

/// sled's page cache, at most: its default (1 GiB) lets a running bot's memory grow with
/// the store for hours (`cargo bench --bench load`); reads past it come from the OS's cache.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

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
        let started = std::time::Instant::now();
        let db = loop {
            match sled::Config::new()
                .path(path)
                .mode(sled::Mode::HighThroughput)
                .cache_capacity(CACHE_BYTES)
                .open()
            {
                Ok(db) => break db,
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    let pid = std::fs::read_to_string(path.join(PID_FILE))
                        .ok()
                        .and_then(|p| p.trim().parse().ok());
                    // This very process let the store go moments ago: sled's last
                    // background write may still hold the lock for a few milliseconds.
                    if pid == Some(std::process::id()) && started.elapsed() < RELEASE_WAIT {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
