//! The Discord front-end, on serenity: the client and its events ([`run`]), the slash
//! commands registered from their one declaration (`register.rs`) and answered through the
//! command core (`slash.rs`), replies rendered within Discord's limits (`render.rs`), the
//! correction and page buttons (`buttons.rs`, with the replies whose pages they turn in
//! `pages.rs`), and the poster that delivers the outbox to channels
//! (`poster.rs`).
//!
//! Everything the bot sends carries empty allowed mentions: posts quoted from the internet
//! can never ping `@everyone`, a role or a user. The API base URL is configurable
//! (`[discord] api_url`); off discord.com, requests go through it as a proxy and serenity's
//! rate limiter is off (it would bypass the proxy), so the poster waits out 429s itself.

mod buttons;
mod pages;
pub mod poster;
pub mod register;
pub mod render;
mod slash;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use secrecy::ExposeSecret;
use serenity::all::{
    ClientBuilder, Command, Context, CreateAllowedMentions, EventHandler, GatewayIntents, GuildId,
    HttpBuilder, Interaction, Ready,
};

use crate::app::App;
use crate::commands::alerts::ServerAlerts;
use crate::commands::status::Status;

/// Discord's public API.
pub const DISCORD_API: &str = "https://discord.com";

/// What the client's events are answered with.
struct Handler {
    app: Arc<App>,
    /// The one server to register the commands in (at once), or none: everywhere.
    guild: Option<u64>,
    /// Commands are registered at the first READY of the run, not at every reconnection.
    registered: AtomicBool,
    /// The replies whose page buttons answer.
    pages: pages::Pages,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        if self.registered.swap(true, Ordering::SeqCst) {
            return;
        }
        let commands = register::commands();
        let done = match self.guild {
            Some(g) => GuildId::new(g)
                .set_commands(&ctx.http, commands)
                .await
                .map(|_| ()),
            None => Command::set_global_commands(&ctx.http, commands)
                .await
                .map(|_| ()),
        };
        match done {
            Ok(()) => tracing::info!(
                user = %ready.user.name,
                servers = ready.guilds.len(),
                "connected to Discord; commands registered"
            ),
            Err(e) => {
                // Next start tries again; the commands registered before still answer.
                self.registered.store(false, Ordering::SeqCst);
                tracing::error!(error = %e, "registering the slash commands failed")
            }
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let app = self.app.clone();
        match interaction {
            Interaction::Command(cmd) => slash::respond(&ctx, app, &self.pages, cmd).await,
            Interaction::Autocomplete(cmd) => slash::autocomplete(&ctx, app, cmd).await,
            Interaction::Component(press) => buttons::on_press(&ctx, app, &self.pages, press).await,
            _ => {}
        }
    }
}

/// The bot's HTTP client: through `api_url` when it is not Discord's own.
pub fn http(token: &str, api_url: &str) -> serenity::all::Http {
    let mut b = HttpBuilder::new(token).default_allowed_mentions(CreateAllowedMentions::new());
    let api = api_url.trim_end_matches('/');
    if api != DISCORD_API {
        b = b.proxy(api).ratelimiter_disabled(true);
    }
    b.build()
}

/// Runs the app with the Discord bot until `shutdown`: registers the commands, answers
/// them, posts what is owed; then closes the shard, drains every task and flushes the store.
pub async fn run(
    app: Arc<App>,
    tokens: crate::config::Tokens,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Status> {
    let token = tokens
        .discord
        .clone()
        .ok_or_else(|| anyhow::anyhow!("DISCORD_TOKEN is not set"))?;
    let ctx = app.ctx();
    let dcfg = ctx.config.discord.clone();
    app.add_notifier(Arc::new(ServerAlerts::new(&ctx, app.posts_ready.clone())?));
    app.start(tokens);
    let http = http(token.expose_secret(), &dcfg.api_url);
    let handler = Handler {
        app: app.clone(),
        guild: dcfg.guild_id,
        registered: AtomicBool::new(false),
        pages: pages::Pages::default(),
    };
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
        .event_handler(handler)
        .await?;
    // The poster starts at once: what was owed before a restart leaves now.
    {
        let (app2, http, cancel) = (app.clone(), client.http.clone(), app.cancel.clone());
        let ctx = app.ctx();
        let queued = tokio::task::spawn_blocking(move || {
            crate::commands::subscriptions::queue_positions(&ctx)
        })
        .await?;
        match queued {
            Ok(n) if n > 0 => tracing::info!(n, "monthly positions owed since the last run"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = format!("{e:#}"), "queueing the monthly positions"),
        }
        app.spawn(poster::deliver(app2, http, cancel));
    }
    let shards = client.shard_manager.clone();
    let mut shutdown = std::pin::pin!(shutdown);
    let cancelled = app.cancel.clone();
    tokio::select! {
        r = client.start_autosharded() => {
            if let Err(e) = r {
                tracing::error!(error = %e, "the Discord connection ended");
                app.shutdown().await?;
                return Err(anyhow::anyhow!("the Discord connection ended: {e}"));
            }
        }
        _ = &mut shutdown => {}
        _ = cancelled.cancelled() => {}
    }
    tracing::info!(
        "stopping: closing the Discord connection, draining every task, flushing the store"
    );
    shards.shutdown_all().await;
    app.shutdown().await
}
