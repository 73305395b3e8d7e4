//! The poster: delivers the outbox (alerts, monthly positions) to Discord channels, oldest
//! first, each message once.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ChannelId, Http, HttpError};
use tokio_util::sync::CancellationToken;

use super::render::message;
use crate::app::App;
use crate::commands::outbox::BotPost;
use crate::http::Backoff;
use crate::store::servers::CONSOLE;

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

/// Delivers the outbox to Discord channels until `cancel`: oldest first, each message once;
/// a 429, a 5xx or a dropped connection is retried with backoff (1 s to 1 min, jittered), a
/// refusal (unknown channel, missing access) is logged and the message dropped.
pub async fn deliver(app: Arc<App>, http: Arc<Http>, cancel: CancellationToken) {
    let tz = crate::commands::collect::timezone(&app.ctx()).unwrap_or(chrono_tz::Europe::Paris);
    loop {
        let store = app.ctx().store.clone();
        let pending =
            match tokio::task::spawn_blocking(move || store.pending_posts::<BotPost>()).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    tracing::error!(error = format!("{e:#}"), "reading the outbox");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
        tracing::debug!(pending = pending.len(), "the outbox");
        for (id, post) in pending.into_iter().filter(|(_, p)| p.guild != CONSOLE) {
            let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
            loop {
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
                    Ok(()) => break,
                    Err(e) if retryable(&e) => {
                        let wait = backoff.next_wait();
                        tracing::warn!(channel = post.channel, error = %e, wait_secs = wait.as_secs(), "Discord refused for now; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = cancel.cancelled() => return,
                        }
                    }
                    Err(e) => {
                        tracing::error!(channel = post.channel, guild = post.guild, error = %e, "Discord refused a message; it is dropped");
                        break;
                    }
                }
            }
            let store = app.ctx().store.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.ack_post(id)).await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "acknowledging a delivered message"
                );
            }
        }
        tokio::select! {
            _ = app.posts_ready.notified() => {}
            _ = cancel.cancelled() => return,
        }
    }
}
