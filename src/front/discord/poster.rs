//! The poster: delivers the outbox (alerts, monthly positions) to Discord channels, oldest
//! first, each message once.
//!
//! A channel Discord refuses (missing access or permissions, an unknown channel) is marked
//! in the store: what is owed there stays in the outbox, `/alerts status` and `/status` say
//! so, and the channel is tried again every ten minutes or as soon as the server
//! chooses it again; an alert goes to the server's alert channel as it is when it is sent.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ChannelId, Http, HttpError};
use tokio_util::sync::CancellationToken;

use super::render::message;
use crate::app::App;
use crate::commands::outbox::{BotPost, PostBody};
use crate::http::Backoff;
use crate::store::servers::{Blocked, CONSOLE};

/// How often a refused channel is tried again.
const RETRY_REFUSED: Duration = Duration::from_secs(600);

/// Whether a failed send is worth retrying (rate limited, Discord down, the network).
fn retryable(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.as_u16() == 429 || r.status_code.is_server_error()
        }
        serenity::Error::Http(HttpError::Request(_)) => true,
        serenity::Error::Io(_) => true,
        _ => false,
    }
}

/// Why Discord refuses the channel itself (not this message), if it does: missing access,
/// missing permissions (403) or an unknown channel (404).
pub fn refused_channel(e: &serenity::Error) -> Option<String> {
    let serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) = e else {
        return None;
    };
    match (r.status_code.as_u16(), r.error.code) {
        (403, 50001) => Some("missing access".into()),
        (403, _) => Some("missing permissions".into()),
        (404, _) => Some("unknown channel".into()),
        _ => None,
    }
}

fn blocking<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&crate::store::Store) -> anyhow::Result<T> + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    let store = app.ctx().store.clone();
    async move {
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::error!(error = format!("{e:#}"), "the outbox's store");
                None
            }
            Err(_) => None,
        }
    }
}

/// Delivers the outbox to Discord channels until `cancel`: oldest first, each message once;
/// a 429, a 5xx or a dropped connection is retried with backoff (1 s to 1 min, jittered); a
/// channel refused keeps what it is owed (see the module's doc); another refusal (a message
/// Discord will never take) is logged and the message dropped.
pub async fn deliver(app: Arc<App>, http: Arc<Http>, cancel: CancellationToken) {
    let tz = crate::commands::collect::timezone(&app.ctx()).unwrap_or(chrono_tz::Europe::Paris);
    let mut retry_refused = tokio::time::Instant::now() + RETRY_REFUSED;
    loop {
        let pending = blocking(&app, |s| s.pending_posts::<BotPost>())
            .await
            .unwrap_or_default();
        let mut refused: HashSet<(u64, u64)> = blocking(&app, |s| s.blocked_channels(None))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|b| (b.guild, b.channel))
            .collect();
        let try_refused = tokio::time::Instant::now() >= retry_refused;
        if try_refused {
            retry_refused = tokio::time::Instant::now() + RETRY_REFUSED;
        }
        let mut tried: HashSet<(u64, u64)> = HashSet::new();
        tracing::debug!(
            pending = pending.len(),
            refused = refused.len(),
            "the outbox"
        );
        for (id, mut post) in pending.into_iter().filter(|(_, p)| p.guild != CONSOLE) {
            if let PostBody::Alert { .. } = post.body {
                // An alert goes to the server's alert channel as it is now.
                let guild = post.guild;
                if let Some(Some(c)) =
                    blocking(&app, move |s| Ok(s.server_settings(guild)?.alert_channel)).await
                {
                    post.channel = c;
                }
            }
            let place = (post.guild, post.channel);
            // A refused channel keeps what it is owed; tried again once in a while.
            if refused.contains(&place) && (!try_refused || !tried.insert(place)) {
                continue;
            }
            let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
            let delivered = loop {
                let sent = match message(&post, tz) {
                    Ok(m) => ChannelId::new(post.channel)
                        .send_message(&http, m)
                        .await
                        .map(|_| ()),
                    Err(e) => {
                        tracing::error!(
                            error = format!("{e:#}"),
                            "drawing a message; it is dropped"
                        );
                        Ok(())
                    }
                };
                match sent {
                    Ok(()) => break true,
                    Err(e) if retryable(&e) => {
                        let wait = backoff.next_wait();
                        tracing::warn!(channel = post.channel, error = %e, wait_secs = wait.as_secs(), "Discord refused for now; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = cancel.cancelled() => return,
                        }
                    }
                    Err(e) => match refused_channel(&e) {
                        Some(why) => {
                            let b = Blocked {
                                guild: post.guild,
                                channel: post.channel,
                                why,
                                since: chrono::Utc::now(),
                            };
                            refused.insert(place);
                            tried.insert(place);
                            if blocking(&app, move |s| s.block_channel(&b)).await == Some(true) {
                                tracing::warn!(channel = post.channel, guild = post.guild, error = %e, "Discord refuses the bot this channel: what is owed there waits until it is fixed or changed");
                            }
                            break false;
                        }
                        None => {
                            tracing::error!(channel = post.channel, guild = post.guild, error = %e, "Discord refused a message; it is dropped");
                            break true;
                        }
                    },
                }
            };
            if !delivered {
                continue;
            }
            if refused.remove(&place) {
                let (g, c) = place;
                if blocking(&app, move |s| s.unblock_channel(g, c)).await == Some(true) {
                    tracing::info!(
                        channel = c,
                        guild = g,
                        "the bot posts in this channel again"
                    );
                }
            }
            if blocking(&app, move |s| s.ack_post(id)).await.is_none() {
                tracing::error!("acknowledging a delivered message failed");
            }
        }
        let wake = tokio::time::sleep_until(retry_refused);
        tokio::select! {
            _ = app.posts_ready.notified() => {}
            _ = cancel.cancelled() => return,
            _ = wake, if !refused.is_empty() => {}
        }
    }
}
