//! The store: a typed wrapper over sled, one tree per concept, with a schema version checked
//! at open.
//!
//! Owns key encoding and (de)serialisation; nothing else in Veille imports sled. Trees:
//! - `meta`: the schema version and one-time markers (the demo data import);
//! - `snapshots`: `platform \0 YYYY-MM \0 account-key` → JSON [`Snapshot`], so that one month
//!   of one platform is a prefix scan.
//!
//! Every write that a caller acknowledges is flushed before the call returns.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context};

use crate::model::{Month, Snapshot};
use crate::rank::catalog::Platform;

/// The schema this code reads and writes. Bump it with a migration when a key or value
/// format changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The open database.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    snapshots: sled::Tree,
}

impl Store {
    /// Opens (or creates) the store at `path` and checks its schema version.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let db =
            sled::open(path).with_context(|| format!("opening the store at {}", path.display()))?;
        Store::init(db).with_context(|| format!("opening the store at {}", path.display()))
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

    /// Writes snapshots, durably (flushed before returning).
    pub fn put_snapshots<'a>(
        &self,
        items: impl IntoIterator<Item = (Platform, &'a str, Month, &'a Snapshot)>,
    ) -> anyhow::Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for (platform, account, month, snap) in items {
            batch.insert(
                snapshot_key(platform, month, account),
                serde_json::to_vec(snap)?,
            );
            n += 1;
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

    /// Writes everything to disk.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.db.flush().context("flushing the store")?;
        Ok(())
    }
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
}
