//! The messages Veille owes to channels, whichever front-end delivers them: bad-buzz alerts
//! to the servers that watch the name, and subscriptions' monthly positions.
//!
//! A message is owed once: it enters the store's outbox together with a marker naming it
//! (`alert/GUILD/ALERT/open`, a subscription and month), in one batch, so a restart or a
//! repeated notification never owes it twice; a poster removes it once delivered.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alerts::notify::Notifier;
use crate::alerts::{EventKind, Outgoing, Settings};
use crate::commands::rank as rank_cmd;
use crate::commands::{CommandResult, Context};
use crate::model::Lang;
use crate::model::Sensitivity;
use crate::rank::message;
use crate::store::corrections::VerdictRef;
use crate::store::servers::{Subscription, CONSOLE};
use crate::store::Store;
use crate::watch::fold::fold;

/// One message owed to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotPost {
    /// The server ([`CONSOLE`] for the console).
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

/// Sends alert events to the servers whose list holds the name and who chose a channel,
/// each filtered by the server's sensitivity. An escalation or a close reaches only a server
/// that received the alert (an escalation that passes a server's threshold is its first).
pub struct ServerAlerts {
    store: Store,
    settings: Settings,
    default: Sensitivity,
    ready: Arc<tokio::sync::Notify>,
}

impl ServerAlerts {
    /// Over the app's store; `ready` wakes the poster.
    pub fn new(ctx: &Context, ready: Arc<tokio::sync::Notify>) -> anyhow::Result<ServerAlerts> {
        Ok(ServerAlerts {
            store: ctx.store.clone(),
            settings: Settings::from_config(&ctx.config)?,
            default: ctx.config.alerts.sensitivity,
            ready,
        })
    }
}

/// The id of a quoted post's verdict (its address, else its text).
pub fn post_verdict_id(url: Option<&str>, text: &str) -> String {
    format!(
        "post:{:016x}",
        crate::store::dedup_hash(url.unwrap_or(text))
    )
}

impl Notifier for ServerAlerts {
    fn notify(&self, out: &Outgoing) -> anyhow::Result<()> {
        let e = &out.event;
        let mut items = Vec::new();
        for (guild, s) in self.store.all_server_settings()? {
            let Some(channel) = s.alert_channel.filter(|_| guild != CONSOLE) else {
                continue;
            };
            let watched = self
                .store
                .watch_list(guild)?
                .iter()
                .any(|w| fold(&w.name) == fold(&e.entity));
            if !watched {
                continue;
            }
            let level = s.sensitivity.unwrap_or(self.default);
            let open = format!("alert/{guild}/{}/open", e.alert_id).into_bytes();
            let received = self.store.owed(&open)?;
            let marker = match e.event {
                EventKind::Open if self.settings.passes(level, e) => open,
                EventKind::Escalate if !received && self.settings.passes(level, e) => open,
                EventKind::Escalate if received => {
                    format!("alert/{guild}/{}/escalate/{}", e.alert_id, e.at.timestamp())
                        .into_bytes()
                }
                EventKind::Close if received => {
                    format!("alert/{guild}/{}/close", e.alert_id).into_bytes()
                }
                _ => continue,
            };
            let mut verdicts = Vec::new();
            for p in &e.posts {
                let id = post_verdict_id(p.url.as_deref(), &p.text);
                self.store.put_verdict_ref(&VerdictRef {
                    id: id.clone(),
                    text: p.text.clone(),
                    lang: None,
                })?;
                verdicts.push(id);
            }
            items.push((
                marker,
                BotPost {
                    guild,
                    channel,
                    lang: s.lang.unwrap_or_default(),
                    body: PostBody::Alert {
                        out: Box::new(out.clone()),
                        verdicts,
                    },
                },
            ));
        }
        if self.store.enqueue_posts(&items)? > 0 {
            self.ready.notify_one();
        }
        Ok(())
    }
}

fn position_marker(sub: &Subscription, month: crate::model::Month) -> Vec<u8> {
    let mut m = b"position/".to_vec();
    m.extend_from_slice(&sub.key());
    m.extend_from_slice(format!("/{month}").as_bytes());
    m
}

/// The subscription's latest month with a position, and its sentences.
fn latest(
    ctx: &Context,
    sub: &Subscription,
    lang: Lang,
) -> Option<(crate::model::Month, String, String)> {
    let history = match rank_cmd::position(ctx, &sub.account, Some(sub.platform.id()), lang) {
        Ok(h) => h,
        Err(e) => {
            e.log("monthly position");
            return None;
        }
    };
    let month = history.last()?.ranking.month;
    let sentences: Vec<String> = history
        .iter()
        .filter(|p| p.ranking.month == month)
        .map(|p| message::position_sentence(&p.ranking, &p.ranking.rows[p.row], lang))
        .collect();
    let last = history.last()?;
    let title = last.ranking.rows[last.row].account.label(sub.platform);
    Some((month, title, sentences.join("\n")))
}

/// Marks the latest known month of a new subscription as given (the subscribe reply shows
/// it) and returns its sentences.
pub fn mark_current(
    ctx: &Context,
    sub: &Subscription,
    lang: Lang,
) -> CommandResult<Option<String>> {
    Ok(match latest(ctx, sub, lang) {
        Some((month, _, text)) => {
            ctx.store.mark_owed(&position_marker(sub, month))?;
            Some(text)
        }
        None => None,
    })
}

/// Queues every subscription's latest position not yet owed (after a monthly collection,
/// and at start to catch up after downtime). Returns how many were queued.
pub fn queue_positions(ctx: &Context) -> anyhow::Result<usize> {
    let mut items = Vec::new();
    for sub in ctx.store.subscriptions(None)? {
        let lang = ctx
            .store
            .server_settings(sub.guild)?
            .lang
            .unwrap_or_default();
        let Some((month, title, text)) = latest(ctx, &sub, lang) else {
            continue;
        };
        let marker = position_marker(&sub, month);
        if ctx.store.owed(&marker)? {
            continue;
        }
        items.push((
            marker,
            BotPost {
                guild: sub.guild,
                channel: sub.channel,
                lang,
                body: PostBody::Position { title, text },
            },
        ));
    }
    ctx.store.enqueue_posts(&items)
}
