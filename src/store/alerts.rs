//! Alert states and the outbox of alert events.
//!
//! Tree `alerts`: `s/ENTITY` → JSON alert state, `e/SEQ` → JSON alert event not yet delivered
//! (the outbox), written together in one batch ([`Store::commit_alerts`]), so that a restart
//! neither repeats a state change nor loses its message.

use anyhow::Context;

use super::{prefixed, Store};

impl Store {
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
}
