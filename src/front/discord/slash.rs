//! Slash commands as they arrive: their options read into a request of the one declaration,
//! answered by the command core off the runtime (deferred when slow), the reply sent as an
//! embed with its pages and correction buttons; and the suggestions while an option is
//! typed.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    AutocompleteChoice, ChannelId, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    ComponentInteractionCollector, Context, CreateActionRow, CreateAllowedMentions,
    CreateAttachment, CreateAutocompleteResponse, CreateButton, CreateEmbed,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    GuildId, Member, User,
};

use super::render::{clip, embed, verdict_row, CONTENT_MAX};
use crate::app::App;
use crate::commands::request::{self, OptionKind, Suggest};
use crate::commands::{Caller, CommandError, Reply};
use crate::model::{Lang, Platform};
use crate::store::servers::CONSOLE;
use crate::watch::fold::fold;

/// Replies taking longer than this are deferred (Discord wants an answer within 3 s).
const DEFER_AFTER: Duration = Duration::from_millis(1500);

/// How long a ranking's page buttons answer.
const PAGES_FOR: Duration = Duration::from_secs(600);

/// Whether the member who sent an interaction has Manage Server (or Administrator), as
/// Discord resolved their permissions in that channel.
fn manages_server(member: Option<&Member>) -> bool {
    member
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_guild() || p.administrator())
}

/// Who sent an interaction (a command or a button press), and where.
pub fn caller(
    guild: Option<GuildId>,
    channel: ChannelId,
    user: &User,
    member: Option<&Member>,
    locale: &str,
) -> Caller {
    Caller {
        guild: guild.map_or(CONSOLE, |g| g.get()),
        channel: channel.get(),
        user: user.id.get(),
        user_name: user.name.clone(),
        can_manage: manages_server(member),
        lang: Lang::from_locale(locale),
    }
}

/// The command's words (`watch add`) and its options' values, as text.
fn words_and_values(cmd: &CommandInteraction) -> (Vec<String>, Vec<(String, String)>) {
    let mut words = vec![cmd.data.name.clone()];
    let mut options: &[CommandDataOption] = &cmd.data.options;
    while let [o] = options {
        match &o.value {
            CommandDataOptionValue::SubCommand(inner)
            | CommandDataOptionValue::SubCommandGroup(inner) => {
                words.push(o.name.clone());
                options = inner;
            }
            _ => break,
        }
    }
    let values = options
        .iter()
        .filter_map(|o| {
            let v = match &o.value {
                CommandDataOptionValue::String(s) => s.clone(),
                CommandDataOptionValue::Integer(n) => n.to_string(),
                CommandDataOptionValue::Number(n) => n.to_string(),
                CommandDataOptionValue::Boolean(b) => b.to_string(),
                CommandDataOptionValue::Channel(c) => c.get().to_string(),
                CommandDataOptionValue::Autocomplete { value, .. } => value.clone(),
                _ => return None,
            };
            Some((o.name.clone(), v))
        })
        .collect();
    (words, values)
}

/// Answers a slash command: directly when quick, deferred first when not. A user error is
/// shown to the caller alone; an internal one is logged and answered briefly.
pub async fn respond(ctx: &Context, app: Arc<App>, cmd: CommandInteraction) {
    let caller = caller(
        cmd.guild_id,
        cmd.channel_id,
        &cmd.user,
        cmd.member.as_deref(),
        &cmd.locale,
    );
    let lang = caller.lang;
    if caller.guild == CONSOLE {
        let text = match lang {
            Lang::Fr => "Veille répond dans les serveurs, pas en message privé.",
            Lang::En => "Veille answers in servers, not in direct messages.",
        };
        return say(ctx, &cmd, false, text).await;
    }
    let (words, values) = words_and_values(&cmd);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let parsed = request::find(&refs, lang).and_then(|(c, _)| request::parse(c, &values, lang));
    let command = match parsed {
        Ok(c) => c,
        Err(e) => {
            e.log(&words.join(" "));
            return say(ctx, &cmd, false, &format!("⚠ {}", e.reply(lang))).await;
        }
    };
    let (a, c, r) = (app.clone(), caller.clone(), command.clone());
    let mut task = tokio::task::spawn_blocking(move || request::run(&*a, &c, &r));
    let (joined, deferred) = match tokio::time::timeout(DEFER_AFTER, &mut task).await {
        Ok(j) => (j, false),
        Err(_) => {
            if let Err(e) = cmd.defer(&ctx.http).await {
                tracing::warn!(command = command.path, error = %e, "deferring a reply");
            }
            (task.await, true)
        }
    };
    let result = joined
        .map_err(|e| CommandError::Internal(anyhow::anyhow!("the command task failed: {e}")))
        .and_then(|r| r);
    match result {
        Ok(reply) => send_reply(ctx, &cmd, &reply, lang, deferred).await,
        Err(e) => {
            e.log(command.path);
            say(ctx, &cmd, deferred, &format!("⚠ {}", e.reply(lang))).await
        }
    }
}

/// What an answer to a command carries.
#[derive(Default)]
struct Answer {
    content: Option<String>,
    embed: Option<CreateEmbed>,
    components: Vec<CreateActionRow>,
    files: Vec<CreateAttachment>,
    ephemeral: bool,
}

/// Sends `answer`: as the interaction's response, or as a follow-up once deferred. Every
/// answer pings nobody.
async fn send(
    ctx: &Context,
    cmd: &CommandInteraction,
    deferred: bool,
    answer: Answer,
) -> serenity::Result<()> {
    if deferred {
        let mut m = CreateInteractionResponseFollowup::new()
            .components(answer.components)
            .ephemeral(answer.ephemeral)
            .allowed_mentions(CreateAllowedMentions::new())
            .add_files(answer.files);
        if let Some(c) = answer.content {
            m = m.content(c);
        }
        if let Some(e) = answer.embed {
            m = m.embed(e);
        }
        cmd.create_followup(&ctx.http, m).await.map(|_| ())
    } else {
        let mut m = CreateInteractionResponseMessage::new()
            .components(answer.components)
            .ephemeral(answer.ephemeral)
            .allowed_mentions(CreateAllowedMentions::new())
            .add_files(answer.files);
        if let Some(c) = answer.content {
            m = m.content(c);
        }
        if let Some(e) = answer.embed {
            m = m.embed(e);
        }
        cmd.create_response(&ctx.http, CreateInteractionResponse::Message(m))
            .await
    }
}

/// A short text for the caller alone.
async fn say(ctx: &Context, cmd: &CommandInteraction, deferred: bool, text: &str) {
    let answer = Answer {
        content: Some(clip(text, CONTENT_MAX)),
        ephemeral: true,
        ..Answer::default()
    };
    if let Err(e) = send(ctx, cmd, deferred, answer).await {
        tracing::warn!(command = %cmd.data.name, error = %e, "answering a command");
    }
}

/// Sends a reply as an embed; a reply with pages gets ◀ ▶ buttons that turn them for
/// [`PAGES_FOR`].
async fn send_reply(
    ctx: &Context,
    cmd: &CommandInteraction,
    reply: &Reply,
    lang: Lang,
    deferred: bool,
) {
    let id = cmd.id.get();
    let (prev, next) = (format!("veille:p:{id}:prev"), format!("veille:p:{id}:next"));
    let mut components = Vec::new();
    if reply.pages.len() > 1 {
        components.push(CreateActionRow::Buttons(vec![
            CreateButton::new(&prev).emoji('◀'),
            CreateButton::new(&next).emoji('▶'),
        ]));
    }
    if let Some(v) = &reply.verdict {
        components.push(verdict_row(v, None, lang));
    }
    let answer = Answer {
        embed: Some(embed(reply, 0, lang)),
        components,
        files: reply
            .image
            .iter()
            .map(|img| CreateAttachment::bytes(img.png.clone(), img.name.clone()))
            .collect(),
        ephemeral: reply.ephemeral,
        content: None,
    };
    if let Err(e) = send(ctx, cmd, deferred, answer).await {
        tracing::warn!(command = %cmd.data.name, error = %e, "sending a reply");
        return;
    }
    if reply.pages.len() < 2 {
        return;
    }
    let mut page = 0;
    let prefix = format!("veille:p:{id}:");
    while let Some(press) = ComponentInteractionCollector::new(&ctx.shard)
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
        let turned = press
            .create_response(
                &ctx.http,
                CreateInteractionResponse::UpdateMessage(
                    CreateInteractionResponseMessage::new().embed(embed(reply, page, lang)),
                ),
            )
            .await;
        if let Err(e) = turned {
            tracing::warn!(error = %e, "turning a page");
            return;
        }
    }
}

/// Suggests values for the option being typed, as its declaration says: categories,
/// platforms, metrics, catalogue accounts, watched names.
pub async fn autocomplete(ctx: &Context, app: Arc<App>, cmd: CommandInteraction) {
    let Some(focused) = cmd.data.autocomplete() else {
        return;
    };
    let (words, _) = words_and_values(&cmd);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let suggest = request::find(&refs, Lang::En).ok().and_then(|(c, _)| {
        c.options
            .iter()
            .find(|o| o.name == focused.name)
            .and_then(|o| match o.kind {
                OptionKind::Text { suggest, .. } => suggest,
                _ => None,
            })
    });
    let partial = focused.value.to_string();
    let all: Vec<String> = match suggest {
        None => Vec::new(),
        Some(Suggest::Category) => app
            .ctx()
            .catalog
            .categories()
            .iter()
            .map(|c| c.id.clone())
            .collect(),
        Some(Suggest::Platform) => Platform::ALL.iter().map(|p| p.id().to_string()).collect(),
        Some(Suggest::Metric) => ["followers", "posts", "engagement", "performance"]
            .map(String::from)
            .to_vec(),
        // The names this server reads: what `/buzz` accepts, never another server's.
        Some(Suggest::Watched) => {
            let guild = cmd.guild_id.map_or(CONSOLE, |g| g.get());
            match crate::commands::watch::visible(&*app, guild) {
                Ok(names) => names.into_iter().map(|e| e.name).collect(),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "reading a server's names");
                    Vec::new()
                }
            }
        }
        Some(Suggest::Feed) => {
            let guild = cmd.guild_id.map_or(CONSOLE, |g| g.get());
            match app.ctx().store.feeds(Some(guild)) {
                Ok(feeds) => feeds.into_iter().map(|f| f.url).collect(),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "reading a server's feeds");
                    Vec::new()
                }
            }
        }
        Some(Suggest::Account) => {
            let ctx = app.ctx();
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
            all
        }
    };
    let response = CreateInteractionResponse::Autocomplete(
        CreateAutocompleteResponse::new().set_choices(choices(&partial, all)),
    );
    if let Err(e) = cmd.create_response(&ctx.http, response).await {
        tracing::debug!(error = %e, "answering an autocompletion");
    }
}

/// The first 25 of `all` that contain what was typed (case and accents folded).
fn choices(partial: &str, all: Vec<String>) -> Vec<AutocompleteChoice> {
    let p = fold(partial);
    all.into_iter()
        .filter(|c| fold(c).contains(&p))
        .take(25)
        .map(|c| AutocompleteChoice::new(clip(&c, 100), clip(&c, 100)))
        .collect()
}
