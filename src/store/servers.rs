//! What the front-ends keep per server (a Discord guild; the console is server 0): its
//! watched names, where its alerts go, its subscriptions; the outbox of the messages the bot
//! owes.
//!
//! Keys of the `servers` tree (ids big-endian, so a server's keys are contiguous):
//! - `c/GUILD` → [`ServerSettings`]
//! - `w/GUILD/FOLDED_NAME` → [`EntitySpec`]
//! - `u/GUILD/CHANNEL/PLATFORM/ACCOUNT` → [`Subscription`]
//! - `f/GUILD/URL` → [`FeedSubscription`] (a feed the server added)
//! - `b/GUILD/CHANNEL` → [`Blocked`]: a channel Discord refused the bot (what is owed there
//!   waits in the outbox)
//! - `o/ID` → a message owed ([`Store::enqueue_posts`]), until the poster acknowledges it
//! - `m/KEY` → a message was owed once (an alert event to a server, a monthly position):
//!   written in the same batch as the outbox entry, so a restart never owes it twice
//! - `v/…` → owned by [`super::corrections`] (the texts verdicts were given on)

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{prefixed, Store};
use crate::model::Sensitivity;
use crate::model::{EntitySpec, Lang, Platform};

/// The console's server id.
pub const CONSOLE: u64 = 0;

/// How one server receives alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSettings {
    /// The channel alerts go to; none until `/alerts channel`.
    pub alert_channel: Option<u64>,
    /// Its sensitivity; the config's when unset.
    pub sensitivity: Option<Sensitivity>,
    /// The language alerts are written in (the locale of who chose the channel).
    #[serde(default)]
    pub lang: Option<Lang>,
}

/// A channel's subscription to an account's monthly position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The server.
    pub guild: u64,
    /// The channel the position is posted in.
    pub channel: u64,
    /// The platform.
    pub platform: Platform,
    /// The account's key in the catalogue (its handle on the platform).
    pub account: String,
    /// Who subscribed (a user id).
    pub by: u64,
    /// When.
    pub at: DateTime<Utc>,
}

impl Subscription {
    /// The subscription's key, also the prefix of its monthly markers.
    pub fn key(&self) -> Vec<u8> {
        sub_key(self.guild, self.channel, self.platform, &self.account)
    }
}

/// A channel Discord refused the bot: the messages owed there wait until it is fixed or
/// changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    /// The server.
    pub guild: u64,
    /// The channel.
    pub channel: u64,
    /// What Discord said (missing access or permissions, unknown channel).
    pub why: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

fn blocked_key(guild: u64, channel: u64) -> Vec<u8> {
    let mut k = prefixed(b"b/", &guild.to_be_bytes());
    k.extend_from_slice(&channel.to_be_bytes());
    k
}

/// A feed a server follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedSubscription {
    /// The server.
    pub guild: u64,
    /// The feed's address, as given.
    pub url: String,
    /// Who added it (a user id).
    pub by: u64,
    /// When.
    pub at: DateTime<Utc>,
}

fn feed_key(guild: u64, url: &str) -> Vec<u8> {
    let mut k = prefixed(b"f/", &guild.to_be_bytes());
    k.extend_from_slice(url.as_bytes());
    k
}

fn sub_key(guild: u64, channel: u64, platform: Platform, account: &str) -> Vec<u8> {
    let mut k = prefixed(b"u/", &guild.to_be_bytes());
    k.extend_from_slice(&channel.to_be_bytes());
    k.extend_from_slice(platform.id().as_bytes());
    k.push(b'/');
    k.extend_from_slice(account.to_lowercase().as_bytes());
    k
}

fn watch_key(guild: u64, name: &str) -> Vec<u8> {
    let mut k = prefixed(b"w/", &guild.to_be_bytes());
    k.extend_from_slice(crate::watch::fold::fold(name).as_bytes());
    k
}

/// The big-endian id after a key's two-byte prefix (`c/GUILD`, `w/GUILD/…`, `o/ID`).
fn id_after_prefix(key: &[u8]) -> u64 {
    key.get(2..10)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

pub(super) fn decode<T: DeserializeOwned>(v: &[u8], what: &str) -> anyhow::Result<T> {
    serde_json::from_slice(v).with_context(|| format!("reading a stored {what}"))
}

impl Store {
    fn scan<T: DeserializeOwned>(&self, prefix: &[u8], what: &str) -> anyhow::Result<Vec<T>> {
        self.servers
            .scan_prefix(prefix)
            .map(|item| decode(&item?.1, what))
            .collect()
    }

    pub(super) fn put_durably<T: Serialize>(&self, key: Vec<u8>, value: &T) -> anyhow::Result<()> {
        self.servers.insert(key, serde_json::to_vec(value)?)?;
        self.servers.flush()?;
        Ok(())
    }

    /// A server's alert settings (defaults when it set none).
    pub fn server_settings(&self, guild: u64) -> anyhow::Result<ServerSettings> {
        match self.servers.get(prefixed(b"c/", &guild.to_be_bytes()))? {
            Some(v) => decode(&v, "server's settings"),
            None => Ok(ServerSettings::default()),
        }
    }

    /// Writes a server's alert settings, durably.
    pub fn put_server_settings(&self, guild: u64, s: &ServerSettings) -> anyhow::Result<()> {
        self.put_durably(prefixed(b"c/", &guild.to_be_bytes()), s)
    }

    /// Every server's alert settings.
    pub fn all_server_settings(&self) -> anyhow::Result<Vec<(u64, ServerSettings)>> {
        let mut out = Vec::new();
        for item in self.servers.scan_prefix(b"c/") {
            let (k, v) = item?;
            let guild = id_after_prefix(&k);
            out.push((guild, decode(&v, "server's settings")?));
        }
        Ok(out)
    }

    /// The names a server watches, by folded name.
    pub fn watch_list(&self, guild: u64) -> anyhow::Result<Vec<EntitySpec>> {
        self.scan(&prefixed(b"w/", &guild.to_be_bytes()), "watched name")
    }

    /// Every server's watched names, with the server.
    pub fn all_watched(&self) -> anyhow::Result<Vec<(u64, EntitySpec)>> {
        let mut out = Vec::new();
        for item in self.servers.scan_prefix(b"w/") {
            let (k, v) = item?;
            let guild = id_after_prefix(&k);
            out.push((guild, decode(&v, "watched name")?));
        }
        Ok(out)
    }

    /// Adds or replaces a name in a server's list, durably; whether it was new.
    pub fn put_watched(&self, guild: u64, e: &EntitySpec) -> anyhow::Result<bool> {
        let key = watch_key(guild, &e.name);
        let new = !self.servers.contains_key(&key)?;
        self.put_durably(key, e)?;
        Ok(new)
    }

    /// Removes a name from a server's list; the name as it was watched, if it was.
    pub fn remove_watched(&self, guild: u64, name: &str) -> anyhow::Result<Option<EntitySpec>> {
        let old = self.servers.remove(watch_key(guild, name))?;
        self.servers.flush()?;
        old.map(|v| decode(&v, "watched name")).transpose()
    }

    /// Adds a subscription, durably; false when the channel already had it.
    pub fn put_subscription(&self, s: &Subscription) -> anyhow::Result<bool> {
        let key = s.key();
        if self.servers.contains_key(&key)? {
            return Ok(false);
        }
        self.put_durably(key, s)?;
        Ok(true)
    }

    /// Removes a subscription; whether there was one.
    pub fn remove_subscription(
        &self,
        guild: u64,
        channel: u64,
        platform: Platform,
        account: &str,
    ) -> anyhow::Result<bool> {
        let found = self
            .servers
            .remove(sub_key(guild, channel, platform, account))?
            .is_some();
        self.servers.flush()?;
        Ok(found)
    }

    /// A server's subscriptions (every server's with `None`).
    pub fn subscriptions(&self, guild: Option<u64>) -> anyhow::Result<Vec<Subscription>> {
        match guild {
            Some(g) => self.scan(&prefixed(b"u/", &g.to_be_bytes()), "subscription"),
            None => self.scan(b"u/", "subscription"),
        }
    }

    /// Marks a channel refused, durably; false when it was already.
    pub fn block_channel(&self, b: &Blocked) -> anyhow::Result<bool> {
        let key = blocked_key(b.guild, b.channel);
        if self.servers.contains_key(&key)? {
            return Ok(false);
        }
        self.put_durably(key, b)?;
        Ok(true)
    }

    /// A channel is usable again (it posted, or the server chose it again); whether it was
    /// refused.
    pub fn unblock_channel(&self, guild: u64, channel: u64) -> anyhow::Result<bool> {
        let found = self.servers.remove(blocked_key(guild, channel))?.is_some();
        if found {
            self.servers.flush()?;
        }
        Ok(found)
    }

    /// The channels refused, a server's (every server's with `None`).
    pub fn blocked_channels(&self, guild: Option<u64>) -> anyhow::Result<Vec<Blocked>> {
        match guild {
            Some(g) => self.scan(&prefixed(b"b/", &g.to_be_bytes()), "refused channel"),
            None => self.scan(b"b/", "refused channel"),
        }
    }

    /// Adds a feed to a server's, durably; false when it had it already.
    pub fn put_feed(&self, f: &FeedSubscription) -> anyhow::Result<bool> {
        let key = feed_key(f.guild, &f.url);
        if self.servers.contains_key(&key)? {
            return Ok(false);
        }
        self.put_durably(key, f)?;
        Ok(true)
    }

    /// Removes a feed from a server's; whether it had it.
    pub fn remove_feed(&self, guild: u64, url: &str) -> anyhow::Result<bool> {
        let found = self.servers.remove(feed_key(guild, url))?.is_some();
        self.servers.flush()?;
        Ok(found)
    }

    /// A server's feeds (every server's with `None`), by address.
    pub fn feeds(&self, guild: Option<u64>) -> anyhow::Result<Vec<FeedSubscription>> {
        match guild {
            Some(g) => self.scan(&prefixed(b"f/", &g.to_be_bytes()), "feed"),
            None => self.scan(b"f/", "feed"),
        }
    }

    /// Whether a message was already owed under `marker`.
    pub fn owed(&self, marker: &[u8]) -> anyhow::Result<bool> {
        Ok(self.servers.contains_key(prefixed(b"m/", marker))?)
    }

    /// Marks a message as given without queueing it (a reply already said it), durably.
    pub fn mark_owed(&self, marker: &[u8]) -> anyhow::Result<()> {
        self.put_durably(prefixed(b"m/", marker), &Utc::now().timestamp())
    }

    /// Puts messages in the outbox, each with the marker that says it was owed, in one
    /// atomic batch, durably; a message whose marker is already set is skipped. Returns how
    /// many were queued.
    pub fn enqueue_posts<T: Serialize>(&self, items: &[(Vec<u8>, T)]) -> anyhow::Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        let mut seen = std::collections::HashSet::new();
        for (marker, post) in items {
            let m = prefixed(b"m/", marker);
            if self.servers.contains_key(&m)? || !seen.insert(m.clone()) {
                continue;
            }
            batch.insert(m, Utc::now().timestamp().to_be_bytes().to_vec());
            let id = self.db.generate_id()?;
            batch.insert(
                prefixed(b"o/", &id.to_be_bytes()),
                serde_json::to_vec(post)?,
            );
            n += 1;
        }
        if n > 0 {
            self.servers
                .apply_batch(batch)
                .context("queueing messages")?;
            self.servers.flush()?;
        }
        Ok(n)
    }

    /// The messages owed, oldest first; an unreadable one is logged and dropped from the
    /// result (it stays stored).
    pub fn pending_posts<T: DeserializeOwned>(&self) -> anyhow::Result<Vec<(u64, T)>> {
        let mut out = Vec::new();
        for item in self.servers.scan_prefix(b"o/") {
            let (k, v) = item?;
            let id = id_after_prefix(&k);
            match serde_json::from_slice(&v) {
                Ok(p) => out.push((id, p)),
                Err(e) => tracing::warn!(id, error = %e, "an unreadable queued message is skipped"),
            }
        }
        Ok(out)
    }

    /// Removes a delivered (or undeliverable) message from the outbox, durably.
    pub fn ack_post(&self, id: u64) -> anyhow::Result<()> {
        self.servers.remove(prefixed(b"o/", &id.to_be_bytes()))?;
        self.servers.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntityKind;

    #[test]
    fn servers_keep_their_own_lists_and_messages_are_owed_once() {
        let store = Store::temporary().expect("store");
        let e = |name: &str| EntitySpec {
            name: name.into(),
            kind: EntityKind::Brand,
            aliases: vec![],
            ambiguous: false,
            exclude: Vec::new(),
        };
        assert!(store.put_watched(1, &e("SNCF")).expect("put"));
        assert!(!store.put_watched(1, &e("sncf")).expect("put again"));
        store.put_watched(2, &e("Orange")).expect("put");
        assert_eq!(store.watch_list(1).expect("list").len(), 1);
        assert_eq!(store.all_watched().expect("all").len(), 2);
        assert_eq!(
            store.remove_watched(1, "Sncf").expect("rm").map(|e| e.name),
            Some("sncf".to_string())
        );
        assert!(store.watch_list(1).expect("list").is_empty());

        let queued = store
            .enqueue_posts(&[(b"a".to_vec(), "one"), (b"a".to_vec(), "dup")])
            .expect("queue");
        assert_eq!(queued, 1);
        assert_eq!(
            store.enqueue_posts(&[(b"a".to_vec(), "again")]).expect("q"),
            0
        );
        let pending: Vec<(u64, String)> = store.pending_posts().expect("pending");
        assert_eq!(pending.len(), 1);
        store.ack_post(pending[0].0).expect("ack");
        assert!(store.pending_posts::<String>().expect("p").is_empty());
        assert!(store.owed(b"a").expect("owed"));
    }
}
