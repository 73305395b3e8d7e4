//! The monthly figures of ranked accounts.
//!
//! Tree `snapshots`: `PLATFORM \0 YYYY-MM \0 ACCOUNT_KEY` → JSON [`Snapshot`], so that one
//! month of one platform is a prefix scan. Writes merge into what is stored
//! ([`Snapshot::merge`]) and are flushed before the call returns.

use std::collections::BTreeSet;

use anyhow::Context;

use super::Store;
use crate::model::{Month, Platform, Snapshot};

impl Store {
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
