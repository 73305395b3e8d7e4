//! The messages Veille owes to channels, whichever front-end delivers them: bad-buzz alerts
//! ([`super::alerts::ServerAlerts`]) and subscriptions' monthly positions
//! ([`super::subscriptions::queue_positions`]).
//!
//! A message is owed once: it enters the store's outbox together with a marker naming it
//! (`alert/GUILD/ALERT/open`, a subscription and month), in one batch, so a restart or a
//! repeated notification never owes it twice; a poster removes it once delivered.

use serde::{Deserialize, Serialize};

use crate::alerts::Outgoing;
use crate::model::Lang;

/// One message owed to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotPost {
    /// The server ([`crate::store::servers::CONSOLE`] for the console).
    pub guild: u64,
    /// The channel.
    pub channel: u64,
    /// The language it is written in.
    pub lang: Lang,
    /// What it says.
    pub body: PostBody,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PostBody {
    /// A bad-buzz alert event, its chart drawn when it is sent; `verdicts` are the ids of
    /// its quoted posts, for the correction buttons.
    Alert {
        /// The event and its series.
        out: Box<Outgoing>,
        /// One verdict id per quoted post.
        verdicts: Vec<String>,
    },
    /// A subscription's monthly position.
    Position {
        /// The account.
        title: String,
        /// The sentences (one per category it is ranked in).
        text: String,
    },
}

/// The id of a quoted post's verdict (its address, else its text).
pub fn post_verdict_id(url: Option<&str>, text: &str) -> String {
    format!(
        "post:{:016x}",
        crate::store::dedup_hash(url.unwrap_or(text))
    )
}
