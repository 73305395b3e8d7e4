//! Plain data shared by every part of Veille: watched entities, posts, verdicts.
//!
//! No I/O and no behaviour beyond small conversions: the watcher, the sources and the store
//! all speak these types.

use serde::{Deserialize, Serialize};

/// What kind of thing a watched entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A company or product brand.
    #[default]
    Brand,
    /// A commune (city, town or village).
    Commune,
    /// A French département.
    Departement,
    /// A French région.
    Region,
    /// An intercommunalité: métropole, communauté urbaine, d'agglomération or de communes.
    Intercommunalite,
    /// A person (an elected official, a spokesperson).
    Person,
    /// Anything else worth watching (an event, a topic).
    Other,
}

/// One watched brand or territory, as written in config or in a `--watch` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySpec {
    /// The display name; it is also matched as a plain name.
    pub name: String,
    /// What the entity is.
    #[serde(default)]
    pub kind: EntityKind,
    /// Other ways posts name it: plain names, `@handles`, `#hashtags`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The name is also a common word (Nice, Tours, Orange): plain-name matches count only in
    /// a strong form (handle, hashtag, capitalised mid-sentence, place context).
    #[serde(default)]
    pub ambiguous: bool,
}

/// The two labels the classifier gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// A plain mention: information, praise, a question.
    Neutral,
    /// A criticism, a complaint, an insult.
    Critical,
}

impl Label {
    /// The label as written in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Neutral => "neutral",
            Label::Critical => "critical",
        }
    }
}

/// What the watcher says of one post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Neutral or critical.
    pub label: Label,
    /// How critical, from 0 to 1; critical from 0.5 up.
    pub score: f32,
    /// The cues that pushed the post towards critical, in text order.
    pub cues: Vec<String>,
    /// Display names of the watched entities the post names, in order of first appearance.
    pub mentions: Vec<String>,
}
