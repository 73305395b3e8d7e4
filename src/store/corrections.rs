//! The team's verdicts on posts, and the texts verdicts were given on.
//!
//! Tree `corrections`: `POST_ID` → JSON [`Correction`]; a correction of the same id replaces
//! the older one. In the `servers` tree, `v/ID` → JSON [`VerdictRef`]: the text a verdict
//! was given on, kept for its correction buttons.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::servers::decode;
use super::{prefixed, Store};
use crate::model::Label;

/// A verdict a person corrected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    /// The post's id (or the hash of a text checked with `/classify`).
    pub id: String,
    /// Its text.
    pub text: String,
    /// Its language, when known.
    #[serde(default)]
    pub lang: Option<String>,
    /// The label the person chose.
    pub label: Label,
    /// Who (`discord:USER_ID`, `file`, `console`).
    pub by: String,
    /// Their display name, when known.
    #[serde(default)]
    pub by_name: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A text a verdict was given on, kept for the correction buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRef {
    /// The post's id, or the text's hash.
    pub id: String,
    /// The text.
    pub text: String,
    /// Its language.
    pub lang: Option<String>,
}

impl Store {
    /// Keeps the text a verdict was given on, for its correction buttons.
    pub fn put_verdict_ref(&self, r: &VerdictRef) -> anyhow::Result<()> {
        self.put_durably(prefixed(b"v/", r.id.as_bytes()), r)
    }

    /// The text of a verdict given earlier.
    pub fn verdict_ref(&self, id: &str) -> anyhow::Result<Option<VerdictRef>> {
        self.servers
            .get(prefixed(b"v/", id.as_bytes()))?
            .map(|v| decode(&v, "verdict"))
            .transpose()
    }

    /// Records a correction, durably; a correction of the same id replaces the older one.
    /// Whether one was replaced.
    pub fn put_correction(&self, c: &Correction) -> anyhow::Result<bool> {
        let old = self
            .corrections
            .insert(c.id.as_bytes(), serde_json::to_vec(c)?)?;
        self.corrections.flush()?;
        Ok(old.is_some())
    }

    /// Every correction, by id.
    pub fn corrections(&self) -> anyhow::Result<Vec<Correction>> {
        self.corrections
            .iter()
            .map(|item| decode(&item?.1, "correction"))
            .collect()
    }

    /// Forgets every correction, durably; how many there were.
    pub fn clear_corrections(&self) -> anyhow::Result<usize> {
        let n = self.corrections.len();
        self.corrections.clear()?;
        self.corrections.flush()?;
        Ok(n)
    }

    /// How many corrections are stored.
    pub fn correction_count(&self) -> usize {
        self.corrections.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_of_the_same_id_replaces_the_older_one() {
        let store = Store::temporary().expect("store");
        let mut c = Correction {
            id: "42".into(),
            text: "Vol annulé".into(),
            lang: Some("fr".into()),
            label: Label::Neutral,
            by: "discord:1".into(),
            by_name: None,
            at: Utc::now(),
        };
        assert!(!store.put_correction(&c).expect("put"));
        c.label = Label::Critical;
        assert!(store.put_correction(&c).expect("replace"));
        assert_eq!(store.correction_count(), 1);
        assert_eq!(store.corrections().expect("all")[0].label, Label::Critical);
    }
}
