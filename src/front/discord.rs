//! The Discord front-end: slash commands (poise on serenity) that call [`super::handle`],
//! replies rendered as embeds within Discord's limits, the correction buttons, and the
//! poster that delivers the outbox (alerts, monthly positions) to channels.
//!
//! Everything the bot sends carries empty allowed mentions: posts quoted from the internet
//! can never ping `@everyone`, a role or a user. The API base URL is configurable
//! (`[discord] api_url`); off discord.com, requests go through it as a proxy and serenity's
//! rate limiter is off (it would bypass the proxy), so the poster waits out 429s itself.

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use secrecy::ExposeSecret;
use serenity::{
    ButtonStyle, ChannelId, CreateActionRow, CreateAllowedMentions, CreateAttachment,
    CreateAutocompleteResponse, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage,
};
use tokio_util::sync::CancellationToken;

use super::posts::{BotPost, PostBody, ServerAlerts};
use super::{correct, handle, Caller, Reply, Request, Tone};
use crate::alerts::chart;
use crate::alerts::EventKind;
use crate::app::App;
use crate::commands::CommandError;
use crate::http::Backoff;
use crate::model::{Label, Lang, Platform};
use crate::store::servers::CONSOLE;

/// Discord's public API.
pub const DISCORD_API: &str = "https://discord.com";

/// What the commands share.
pub struct Data {
    app: Arc<App>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;
type Ctx<'a> = poise::Context<'a, Data, Error>;

/// Replies taking longer than this are deferred (Discord wants an answer within 3 s).
const DEFER_AFTER: Duration = Duration::from_millis(1500);

/// How long a ranking's page buttons answer.
const PAGES_FOR: Duration = Duration::from_secs(600);

// Discord's limits.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
const FIELDS_MAX: usize = 25;
const FOOTER_MAX: usize = 2048;
const CONTENT_MAX: usize = 2000;
const EMBED_TOTAL_MAX: usize = 6000;

/// `s` cut to `max` characters, ending with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn color(t: Tone) -> u32 {
    match t {
        Tone::Info => 0x3b82f6,
        Tone::Good => 0x22c55e,
        Tone::Warn => 0xf59e0b,
        Tone::Bad => 0xdc2626,
    }
}

/// The embed of a reply showing page `page`, within Discord's limits.
pub fn embed(reply: &Reply, page: usize, lang: Lang) -> CreateEmbed {
    let mut budget = EMBED_TOTAL_MAX;
    let mut spend = |s: String| {
        let s = clip(&s, budget);
        budget -= s.chars().count();
        s
    };
    let title = spend(clip(&reply.title, TITLE_MAX));
    let mut desc = clip(&reply.body, DESCRIPTION_MAX - 200);
    if let Some(p) = reply.pages.get(page) {
        let room = DESCRIPTION_MAX.saturating_sub(desc.chars().count() + 10);
        desc = format!("{desc}\n```\n{}\n```", clip(p, room));
    }
    let mut footer = reply.footer.clone().unwrap_or_default();
    if reply.pages.len() > 1 {
        let p = match lang {
            Lang::Fr => format!("page {}/{}", page + 1, reply.pages.len()),
            Lang::En => format!("page {} of {}", page + 1, reply.pages.len()),
        };
        footer = if footer.is_empty() {
            p
        } else {
            format!("{footer} · {p}")
        };
    }
    let footer = spend(clip(&footer, FOOTER_MAX));
    let desc = spend(desc.trim().to_string());
    let mut e = CreateEmbed::new()
        .title(title)
        .description(desc)
        .color(color(reply.tone));
    for (k, v) in reply.fields.iter().take(FIELDS_MAX) {
        let k = spend(clip(k, FIELD_NAME_MAX));
        let v = spend(clip(v, FIELD_VALUE_MAX));
        if k.is_empty() || v.is_empty() {
            break;
        }
        e = e.field(k, v, false);
    }
    if !footer.is_empty() {
        e = e.footer(CreateEmbedFooter::new(footer));
    }
    if let Some(img) = &reply.image {
        e = e.image(format!("attachment://{}", img.name));
    }
    e
}

/// The « Critique » / « Pas critique » buttons of a verdict; `n` numbers them when a message
/// carries several.
fn verdict_row(id: &str, n: Option<usize>, lang: Lang) -> CreateActionRow {
    let (c, nc) = match lang {
        Lang::Fr => ("Critique", "Pas critique"),
        Lang::En => ("Critical", "Not critical"),
    };
    let label = |s: &str| n.map_or(s.to_string(), |n| format!("#{n} {s}"));
    CreateActionRow::Buttons(vec![
        CreateButton::new(format!("veille:v:c:{id}"))
            .label(label(c))
            .style(ButtonStyle::Danger),
        CreateButton::new(format!("veille:v:n:{id}"))
            .label(label(nc))
            .style(ButtonStyle::Secondary),
    ])
}

fn caller(ctx: &Ctx<'_>) -> Caller {
    let lang = Lang::from_locale(ctx.locale().unwrap_or("fr"));
    let member = match ctx {
        poise::Context::Application(a) => a.interaction.member.as_deref(),
        poise::Context::Prefix(_) => None,
    };
    Caller {
        guild: ctx.guild_id().map_or(CONSOLE, |g| g.get()),
        channel: ctx.channel_id().get(),
        user: ctx.author().id.get(),
        user_name: ctx.author().name.clone(),
        can_manage: manages_server(member),
        lang,
    }
}

/// Whether the member who sent an interaction has Manage Server (or Administrator), as
/// Discord resolved their permissions in that channel.
fn manages_server(member: Option<&serenity::Member>) -> bool {
    member
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_guild() || p.administrator())
}

/// Runs a request: answered directly when quick, deferred first when not; a user error is
/// shown to the caller alone, an internal one is logged and answered briefly.
async fn respond(ctx: Ctx<'_>, req: Request) -> Result<(), Error> {
    let caller = caller(&ctx);
    if caller.guild == CONSOLE {
        ctx.send(
            poise::CreateReply::default()
                .content(match caller.lang {
                    Lang::Fr => "Veille répond dans les serveurs, pas en message privé.",
                    Lang::En => "Veille answers in servers, not in direct messages.",
                })
                .ephemeral(true),
        )
        .await?;
        return Ok(());
    }
    let (app, c, r) = (ctx.data().app.clone(), caller.clone(), req.clone());
    let mut task = tokio::task::spawn_blocking(move || handle(&app, &c, &r));
    let joined = match tokio::time::timeout(DEFER_AFTER, &mut task).await {
        Ok(j) => j,
        Err(_) => {
            ctx.defer().await?;
            task.await
        }
    };
    let result =
        joined.map_err(|e| CommandError::Internal(anyhow::anyhow!("the command task failed: {e}")));
    match result.and_then(|r| r) {
        Ok(reply) => send_reply(ctx, &reply, caller.lang).await,
        Err(e) => {
            e.log(req.name());
            ctx.send(
                poise::CreateReply::default()
                    .content(clip(&format!("⚠ {}", e.reply(caller.lang)), CONTENT_MAX))
                    .ephemeral(true),
            )
            .await?;
            Ok(())
        }
    }
}

async fn send_reply(ctx: Ctx<'_>, reply: &Reply, lang: Lang) -> Result<(), Error> {
    let id = match ctx {
        poise::Context::Application(a) => a.interaction.id.get(),
        poise::Context::Prefix(p) => p.msg.id.get(),
    };
    let (prev, next) = (format!("veille:p:{id}:prev"), format!("veille:p:{id}:next"));
    let mut rows = Vec::new();
    if reply.pages.len() > 1 {
        rows.push(CreateActionRow::Buttons(vec![
            CreateButton::new(&prev).emoji('◀'),
            CreateButton::new(&next).emoji('▶'),
        ]));
    }
    if let Some(v) = &reply.verdict {
        rows.push(verdict_row(v, None, lang));
    }
    let mut r = poise::CreateReply::default()
        .embed(embed(reply, 0, lang))
        .components(rows)
        .ephemeral(reply.ephemeral)
        .allowed_mentions(CreateAllowedMentions::new());
    if let Some(img) = &reply.image {
        r = r.attachment(CreateAttachment::bytes(img.png.clone(), img.name.clone()));
    }
    ctx.send(r).await?;
    if reply.pages.len() < 2 {
        return Ok(());
    }
    let mut page = 0;
    let prefix = format!("veille:p:{id}:");
    while let Some(press) = serenity::ComponentInteractionCollector::new(ctx)
        .filter({
            let prefix = prefix.clone();
            move |p| p.data.custom_id.starts_with(&prefix)
        })
        .timeout(PAGES_FOR)
        .await
    {
        let n = reply.pages.len();
        page = if press.data.custom_id == next {
            (page + 1) % n
        } else {
            (page + n - 1) % n
        };
        press
            .create_response(
                ctx.serenity_context(),
                CreateInteractionResponse::UpdateMessage(
                    CreateInteractionResponseMessage::new().embed(embed(reply, page, lang)),
                ),
            )
            .await?;
    }
    Ok(())
}

fn choices<I: IntoIterator<Item = String>>(partial: &str, all: I) -> CreateAutocompleteResponse {
    let p = crate::watch::fold::fold(partial);
    let list: Vec<serenity::AutocompleteChoice> = all
        .into_iter()
        .filter(|c| crate::watch::fold::fold(c).contains(&p))
        .take(25)
        .map(|c| serenity::AutocompleteChoice::new(clip(&c, 100), clip(&c, 100)))
        .collect();
    CreateAutocompleteResponse::new().set_choices(list)
}

async fn ac_category<'a>(ctx: Ctx<'a>, partial: &'a str) -> CreateAutocompleteResponse {
    let cats = ctx
        .data()
        .app
        .ctx()
        .catalog
        .categories()
        .iter()
        .map(|c| c.id.clone())
        .collect::<Vec<_>>();
    choices(partial, cats)
}

async fn ac_platform<'a>(_ctx: Ctx<'a>, partial: &'a str) -> CreateAutocompleteResponse {
    choices(partial, Platform::ALL.iter().map(|p| p.id().to_string()))
}

async fn ac_metric<'a>(_ctx: Ctx<'a>, partial: &'a str) -> CreateAutocompleteResponse {
    choices(
        partial,
        ["followers", "posts", "engagement", "performance"].map(String::from),
    )
}

async fn ac_watched<'a>(ctx: Ctx<'a>, partial: &'a str) -> CreateAutocompleteResponse {
    // The names the running watcher knows: what `/buzz` accepts (no store read a keystroke).
    let ctx = ctx.data().app.ctx();
    choices(partial, ctx.entities.iter().map(|e| e.name.clone()))
}

async fn ac_account<'a>(ctx: Ctx<'a>, partial: &'a str) -> CreateAutocompleteResponse {
    let ctx = ctx.data().app.ctx();
    let mut all: Vec<String> = Vec::new();
    for c in ctx.catalog.categories() {
        for a in &c.accounts {
            for p in Platform::ALL {
                if let Some(h) = a.handle(p) {
                    all.push(format!("@{h}"));
                }
            }
        }
    }
    all.sort();
    all.dedup();
    choices(partial, all)
}

/// Sensitivity of alerts.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum Level {
    /// Big spikes only.
    #[name = "low"]
    #[name_localized("fr", "faible")]
    Low,
    /// The default.
    #[name = "medium"]
    #[name_localized("fr", "moyenne")]
    Medium,
    /// Smaller spikes too.
    #[name = "high"]
    #[name_localized("fr", "haute")]
    High,
}

/// A category's ranking on a platform for a month
#[poise::command(
    slash_command,
    name_localized("fr", "classement"),
    description_localized(
        "fr",
        "Classement d'une catégorie de comptes sur un réseau pour un mois"
    )
)]
async fn rank(
    ctx: Ctx<'_>,
    #[description = "villes, departements, regions…"]
    #[description_localized("fr", "villes, departements, regions…")]
    #[name_localized("fr", "categorie")]
    #[autocomplete = "ac_category"]
    category: String,
    #[description = "twitter, instagram, bluesky, facebook"]
    #[description_localized("fr", "twitter, instagram, bluesky, facebook")]
    #[name_localized("fr", "reseau")]
    #[autocomplete = "ac_platform"]
    platform: String,
    #[description = "followers, posts, engagement, performance"]
    #[description_localized("fr", "abonnés, publications, engagement, performance")]
    #[name_localized("fr", "mesure")]
    #[autocomplete = "ac_metric"]
    metric: Option<String>,
    #[description = "YYYY-MM (the latest by default)"]
    #[description_localized("fr", "AAAA-MM (le dernier par défaut)")]
    #[name_localized("fr", "mois")]
    month: Option<String>,
    #[description = "How many rows"]
    #[description_localized("fr", "Combien de lignes")]
    #[min = 1]
    #[max = 100]
    top: Option<u32>,
) -> Result<(), Error> {
    respond(
        ctx,
        Request::Rank {
            category,
            platform,
            metric,
            month,
            top: top.map(|t| t as usize),
        },
    )
    .await
}

/// An account's recent positions, with a chart
#[poise::command(
    slash_command,
    description_localized("fr", "Les positions récentes d'un compte, avec un graphique")
)]
async fn position(
    ctx: Ctx<'_>,
    #[description = "@handle or name"]
    #[description_localized("fr", "@compte ou nom")]
    #[name_localized("fr", "compte")]
    #[autocomplete = "ac_account"]
    account: String,
    #[description = "twitter, instagram, bluesky, facebook"]
    #[description_localized("fr", "twitter, instagram, bluesky, facebook")]
    #[name_localized("fr", "reseau")]
    #[autocomplete = "ac_platform"]
    platform: Option<String>,
) -> Result<(), Error> {
    respond(ctx, Request::Position { account, platform }).await
}

/// Post an account's monthly position in a channel
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    name_localized("fr", "abonner"),
    description_localized("fr", "Poster chaque mois la position d'un compte dans un salon")
)]
async fn subscribe(
    ctx: Ctx<'_>,
    #[description = "@handle or name"]
    #[description_localized("fr", "@compte ou nom")]
    #[name_localized("fr", "compte")]
    #[autocomplete = "ac_account"]
    account: String,
    #[description = "twitter, instagram, bluesky, facebook"]
    #[description_localized("fr", "twitter, instagram, bluesky, facebook")]
    #[name_localized("fr", "reseau")]
    #[autocomplete = "ac_platform"]
    platform: String,
    #[description = "The channel (this one by default)"]
    #[description_localized("fr", "Le salon (celui-ci par défaut)")]
    #[name_localized("fr", "salon")]
    #[channel_types("Text")]
    channel: Option<serenity::ChannelId>,
) -> Result<(), Error> {
    respond(
        ctx,
        Request::Subscribe {
            account,
            platform,
            channel: channel.map(|c| c.get()),
        },
    )
    .await
}

/// Stop posting an account's monthly position
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    name_localized("fr", "desabonner"),
    description_localized("fr", "Arrêter de poster la position mensuelle d'un compte")
)]
async fn unsubscribe(
    ctx: Ctx<'_>,
    #[description = "@handle or name"]
    #[description_localized("fr", "@compte ou nom")]
    #[name_localized("fr", "compte")]
    #[autocomplete = "ac_account"]
    account: String,
    #[description = "twitter, instagram, bluesky, facebook"]
    #[description_localized("fr", "twitter, instagram, bluesky, facebook")]
    #[name_localized("fr", "reseau")]
    #[autocomplete = "ac_platform"]
    platform: String,
    #[description = "The channel (this one by default)"]
    #[description_localized("fr", "Le salon (celui-ci par défaut)")]
    #[name_localized("fr", "salon")]
    #[channel_types("Text")]
    channel: Option<serenity::ChannelId>,
) -> Result<(), Error> {
    respond(
        ctx,
        Request::Unsubscribe {
            account,
            platform,
            channel: channel.map(|c| c.get()),
        },
    )
    .await
}

/// This server's subscriptions
#[poise::command(
    slash_command,
    guild_only,
    name_localized("fr", "abonnements"),
    description_localized("fr", "Les abonnements de ce serveur")
)]
async fn subscriptions(ctx: Ctx<'_>) -> Result<(), Error> {
    respond(ctx, Request::Subscriptions).await
}

/// The names this server watches
#[poise::command(
    slash_command,
    guild_only,
    subcommands("watch_add", "watch_remove", "watch_list"),
    subcommand_required,
    name_localized("fr", "surveiller"),
    description_localized("fr", "Les noms que ce serveur surveille")
)]
async fn watch(_ctx: Ctx<'_>) -> Result<(), Error> {
    Ok(())
}

/// Watch a name
#[poise::command(
    slash_command,
    guild_only,
    rename = "add",
    default_member_permissions = "MANAGE_GUILD",
    name_localized("fr", "ajouter"),
    description_localized("fr", "Surveiller un nom")
)]
async fn watch_add(
    ctx: Ctx<'_>,
    #[description = "The brand or territory"]
    #[description_localized("fr", "La marque ou le territoire")]
    #[name_localized("fr", "nom")]
    name: String,
    #[description = "Other names, @handles, #hashtags, comma-separated"]
    #[description_localized("fr", "Autres noms, @comptes, #hashtags, séparés par des virgules")]
    aliases: Option<String>,
    #[description = "brand, commune, departement, region, intercommunalite, person, other"]
    #[description_localized(
        "fr",
        "brand, commune, departement, region, intercommunalite, person, other"
    )]
    #[name_localized("fr", "type")]
    kind: Option<String>,
) -> Result<(), Error> {
    respond(
        ctx,
        Request::WatchAdd {
            name,
            aliases,
            kind,
        },
    )
    .await
}

/// Stop watching a name
#[poise::command(
    slash_command,
    guild_only,
    rename = "remove",
    default_member_permissions = "MANAGE_GUILD",
    name_localized("fr", "retirer"),
    description_localized("fr", "Ne plus surveiller un nom")
)]
async fn watch_remove(
    ctx: Ctx<'_>,
    #[description = "The watched name"]
    #[description_localized("fr", "Le nom surveillé")]
    #[name_localized("fr", "nom")]
    #[autocomplete = "ac_watched"]
    name: String,
) -> Result<(), Error> {
    respond(ctx, Request::WatchRemove { name }).await
}

/// The watched names
#[poise::command(
    slash_command,
    guild_only,
    rename = "list",
    name_localized("fr", "liste"),
    description_localized("fr", "Les noms surveillés")
)]
async fn watch_list(ctx: Ctx<'_>) -> Result<(), Error> {
    respond(ctx, Request::WatchList).await
}

/// Where and how bad-buzz alerts arrive
#[poise::command(
    slash_command,
    guild_only,
    subcommands("alerts_channel", "alerts_sensitivity", "alerts_status"),
    subcommand_required,
    name_localized("fr", "alertes"),
    description_localized("fr", "Où et comment arrivent les alertes de bad buzz")
)]
async fn alerts(_ctx: Ctx<'_>) -> Result<(), Error> {
    Ok(())
}

/// The channel alerts go to
#[poise::command(
    slash_command,
    guild_only,
    rename = "channel",
    default_member_permissions = "MANAGE_GUILD",
    name_localized("fr", "salon"),
    description_localized("fr", "Le salon où arrivent les alertes")
)]
async fn alerts_channel(
    ctx: Ctx<'_>,
    #[description = "The channel"]
    #[description_localized("fr", "Le salon")]
    #[name_localized("fr", "salon")]
    #[channel_types("Text")]
    channel: serenity::ChannelId,
) -> Result<(), Error> {
    respond(
        ctx,
        Request::AlertsChannel {
            channel: channel.get(),
        },
    )
    .await
}

/// How readily alerts open
#[poise::command(
    slash_command,
    guild_only,
    rename = "sensitivity",
    default_member_permissions = "MANAGE_GUILD",
    name_localized("fr", "sensibilite"),
    description_localized("fr", "À quel point les alertes se déclenchent facilement")
)]
async fn alerts_sensitivity(
    ctx: Ctx<'_>,
    #[description = "low: big spikes only; high: smaller spikes too"]
    #[description_localized("fr", "faible : les gros pics seulement ; haute : les petits aussi")]
    #[name_localized("fr", "niveau")]
    level: Level,
) -> Result<(), Error> {
    let level = match level {
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
    };
    respond(
        ctx,
        Request::AlertsSensitivity {
            level: level.into(),
        },
    )
    .await
}

/// Where alerts go, their sensitivity, the open alerts
#[poise::command(
    slash_command,
    guild_only,
    rename = "status",
    name_localized("fr", "etat"),
    description_localized("fr", "Où vont les alertes, leur sensibilité, les alertes ouvertes")
)]
async fn alerts_status(ctx: Ctx<'_>) -> Result<(), Error> {
    respond(ctx, Request::AlertsStatus).await
}

/// A watched name's recent mentions and critical posts against its baseline
#[poise::command(
    slash_command,
    description_localized(
        "fr",
        "Mentions et critiques récentes d'un nom surveillé contre sa normale"
    )
)]
async fn buzz(
    ctx: Ctx<'_>,
    #[description = "The watched name"]
    #[description_localized("fr", "Le nom surveillé")]
    #[name_localized("fr", "nom")]
    #[autocomplete = "ac_watched"]
    name: String,
    #[description = "24h, 48h, 7d or a date YYYY-MM-DD"]
    #[description_localized("fr", "24h, 48h, 7j ou une date AAAA-MM-JJ")]
    #[name_localized("fr", "periode")]
    period: Option<String>,
) -> Result<(), Error> {
    respond(ctx, Request::Buzz { name, period }).await
}

/// The classifier's verdict on a text, with its cues
#[poise::command(
    slash_command,
    name_localized("fr", "classer"),
    description_localized("fr", "Le verdict du classifieur sur un texte, avec ses indices")
)]
async fn classify(
    ctx: Ctx<'_>,
    #[description = "The post's text"]
    #[description_localized("fr", "Le texte du post")]
    #[name_localized("fr", "texte")]
    #[max_length = 4000]
    text: String,
) -> Result<(), Error> {
    respond(ctx, Request::Classify { text }).await
}

/// Sources, posts today, last collection, open alerts
#[poise::command(
    slash_command,
    name_localized("fr", "etat"),
    description_localized("fr", "Sources, posts du jour, dernière collecte, alertes ouvertes")
)]
async fn status(ctx: Ctx<'_>) -> Result<(), Error> {
    respond(ctx, Request::Status).await
}

/// Every command, as registered.
pub fn commands() -> Vec<poise::Command<Data, Error>> {
    vec![
        rank(),
        position(),
        subscribe(),
        unsubscribe(),
        subscriptions(),
        watch(),
        alerts(),
        buzz(),
        classify(),
        status(),
    ]
}

/// A correction button pressed: recorded with who pressed it (when they may: see
/// [`correct`]), confirmed to them alone.
async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let Some(rest) = press.data.custom_id.strip_prefix("veille:v:") else {
        return Ok(());
    };
    let (label, id) = match rest.split_once(':') {
        Some(("c", id)) => (Label::Critical, id.to_string()),
        Some(("n", id)) => (Label::Neutral, id.to_string()),
        _ => return Ok(()),
    };
    let caller = Caller {
        guild: press.guild_id.map_or(CONSOLE, |g| g.get()),
        channel: press.channel_id.get(),
        user: press.user.id.get(),
        user_name: press.user.name.clone(),
        can_manage: manages_server(press.member.as_ref()),
        lang: Lang::from_locale(&press.locale),
    };
    let (app, c) = (data.app.clone(), caller.clone());
    let result = tokio::task::spawn_blocking(move || correct(&app, &c, &id, label))
        .await
        .map_err(|e| CommandError::Internal(anyhow::anyhow!("the correction task failed: {e}")))
        .and_then(|r| r);
    let text = match result {
        Ok(r) => r.plain(),
        Err(e) => {
            e.log("correction");
            format!("⚠ {}", e.reply(caller.lang))
        }
    };
    press
        .create_response(
            &ctx.http,
            CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(clip(&text, CONTENT_MAX))
                    .ephemeral(true)
                    .allowed_mentions(CreateAllowedMentions::new()),
            ),
        )
        .await?;
    Ok(())
}

/// The message of an owed post.
pub fn message(p: &BotPost, tz: chrono_tz::Tz) -> anyhow::Result<CreateMessage> {
    let msg = CreateMessage::new().allowed_mentions(CreateAllowedMentions::new());
    Ok(match &p.body {
        PostBody::Position { title, text } => msg.embed(
            CreateEmbed::new()
                .title(clip(&format!("📅 {title}"), TITLE_MAX))
                .description(clip(text, DESCRIPTION_MAX))
                .color(color(Tone::Info)),
        ),
        PostBody::Alert { out, verdicts } => {
            let e = &out.event;
            let text = crate::alerts::notify::message(out, tz, p.lang);
            let mut lines = text.splitn(2, " — ");
            let title = lines.next().unwrap_or_default().to_string();
            let body = lines.next().unwrap_or_default().to_string();
            let tone = match e.event {
                EventKind::Open => Tone::Bad,
                EventKind::Escalate => Tone::Warn,
                EventKind::Close => Tone::Good,
            };
            let mut embed = CreateEmbed::new()
                .title(clip(&title, TITLE_MAX))
                .description(clip(&body, DESCRIPTION_MAX))
                .color(color(tone))
                .timestamp(
                    serenity::Timestamp::from_unix_timestamp(e.at.timestamp())
                        .unwrap_or_else(|_| serenity::Timestamp::now()),
                );
            let mut msg = msg;
            if e.event != EventKind::Close {
                let png = chart::png(&chart::ChartSpec {
                    title: &e.entity,
                    series: &out.series,
                    bucket_secs: out.bucket_secs,
                    alert_window: Some(out.alert_window),
                    tz,
                    lang: p.lang,
                })?;
                embed = embed.image("attachment://chart.png");
                msg = msg.add_file(CreateAttachment::bytes(png, "chart.png"));
                let rows: Vec<CreateActionRow> = verdicts
                    .iter()
                    .take(5)
                    .enumerate()
                    .map(|(i, v)| verdict_row(v, Some(i + 1), p.lang))
                    .collect();
                msg = msg.components(rows);
            }
            msg.embed(embed)
        }
    })
}

/// Whether a failed send is worth retrying (rate limited, Discord down, the network).
fn retryable(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.as_u16() == 429 || r.status_code.is_server_error()
        }
        serenity::Error::Http(serenity::HttpError::Request(_)) => true,
        serenity::Error::Io(_) => true,
        _ => false,
    }
}

/// Delivers the outbox to Discord channels until `cancel`: oldest first, each message once;
/// a 429, a 5xx or a dropped connection is retried with backoff (1 s to 1 min, jittered), a
/// refusal (unknown channel, missing access) is logged and the message dropped.
pub async fn deliver(app: Arc<App>, http: Arc<serenity::Http>, cancel: CancellationToken) {
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

/// The bot's HTTP client: through `api_url` when it is not Discord's own.
pub fn http(token: &str, api_url: &str) -> serenity::Http {
    let mut b =
        serenity::HttpBuilder::new(token).default_allowed_mentions(CreateAllowedMentions::new());
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
) -> anyhow::Result<crate::app::Status> {
    let token = tokens
        .discord
        .clone()
        .ok_or_else(|| anyhow::anyhow!("DISCORD_TOKEN is not set"))?;
    let ctx = app.ctx();
    let dcfg = ctx.config.discord.clone();
    app.add_notifier(Arc::new(ServerAlerts::new(&ctx, app.posts_ready.clone())?));
    app.start(tokens);
    let http = http(token.expose_secret(), &dcfg.api_url);
    let data_app = app.clone();
    let guild = dcfg.guild_id;
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands(),
            allowed_mentions: Some(CreateAllowedMentions::new()),
            initialize_owners: false,
            on_error: |err| {
                Box::pin(async move {
                    match err {
                        poise::FrameworkError::ArgumentParse { error, ctx, .. } => {
                            tracing::info!(command = %ctx.command().name, error = %error, "an option did not parse");
                            let lang = Lang::from_locale(ctx.locale().unwrap_or("fr"));
                            let _ = ctx
                                .send(
                                    poise::CreateReply::default()
                                        .content(match lang {
                                            Lang::Fr => format!("⚠ option invalide : {error}"),
                                            Lang::En => format!("⚠ invalid option: {error}"),
                                        })
                                        .ephemeral(true),
                                )
                                .await;
                        }
                        poise::FrameworkError::CommandStructureMismatch { description, ctx, .. } => {
                            tracing::warn!(command = %ctx.command().name, description, "a command's options do not match its definition");
                            let lang = Lang::from_locale(&ctx.interaction.locale);
                            let _ = poise::Context::Application(ctx)
                                .send(
                                    poise::CreateReply::default()
                                        .content(match lang {
                                            Lang::Fr => "⚠ options non reconnues : la commande a peut-être changé, réessayez dans un instant",
                                            Lang::En => "⚠ options not understood: the command may have changed, try again in a moment",
                                        })
                                        .ephemeral(true),
                                )
                                .await;
                        }
                        other => {
                            if let Err(e) = poise::builtins::on_error(other).await {
                                tracing::error!(error = %e, "answering an error");
                            }
                        }
                    }
                })
            },
            event_handler: |fw, event| {
                Box::pin(async move {
                    if let serenity::FullEvent::InteractionCreate {
                        interaction: serenity::Interaction::Component(press),
                    } = event
                    {
                        on_component(fw.serenity_context, fw.user_data, press).await?;
                    }
                    Ok(())
                })
            },
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                match guild {
                    Some(g) => {
                        poise::builtins::register_in_guild(ctx, &framework.options().commands, serenity::GuildId::new(g)).await?
                    }
                    None => poise::builtins::register_globally(ctx, &framework.options().commands).await?,
                }
                tracing::info!(user = %ready.user.name, servers = ready.guilds.len(), "connected to Discord; commands registered");
                Ok(Data { app: data_app })
            })
        })
        .build();
    let mut client = serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::GUILDS)
        .framework(framework)
        .await?;
    // The poster starts at once: what was owed before a restart leaves now.
    {
        let (app2, http, cancel) = (app.clone(), client.http.clone(), app.cancel.clone());
        let ctx = app.ctx();
        match tokio::task::spawn_blocking(move || super::posts::queue_positions(&ctx)).await? {
            Ok(n) if n > 0 => tracing::info!(n, "monthly positions owed since the last run"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = format!("{e:#}"), "queueing the monthly positions"),
        }
        app.spawn(deliver(app2, http, cancel));
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
