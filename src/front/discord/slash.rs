//! Slash commands as they arrive: their options read into a request of the one declaration,
//! answered by the command core off the runtime (deferred when slow), the reply sent as an
//! embed with its pages and correction buttons; and the suggestions while an option is
//! typed.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    AutocompleteChoice, ChannelId, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    Context, CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateAutocompleteResponse,
    CreateButton, CreateEmbed, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, GuildChannel, GuildId, Member, PermissionOverwriteType,
    Permissions, Role, RoleId, User,
};

use super::pages::{button_id, Pages};
use super::render::{clip, embed, verdict_row, CONTENT_MAX};
use crate::app::App;
use crate::commands::request::{self, AlertsRequest, OptionKind, Request, Suggest};
use crate::commands::{Caller, ChannelCheck, CommandError, Need, Reply};
use crate::model::{Lang, Platform};
use crate::store::servers::CONSOLE;
use crate::watch::fold::fold;

/// Replies taking longer than this are deferred (Discord wants an answer within 3 s).
const DEFER_AFTER: Duration = Duration::from_millis(1500);

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
        channel_check: None,
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

/// What the bot lacks in `channel` of what it needs to post there (see [`Need`]), from the
/// server's roles, its own and the channel's permission overwrites; `None` when Discord
/// could not tell (the command then goes on, and the poster finds out).
async fn bot_lacks(ctx: &Context, guild: GuildId, channel: ChannelId) -> Option<Vec<Need>> {
    let me = ctx.cache.current_user().id;
    let (roles, member, found) = tokio::join!(
        ctx.http.get_guild_roles(guild),
        ctx.http.get_member(guild, me),
        ctx.http.get_channel(channel),
    );
    let asked = (roles, member, found);
    let (Ok(roles), Ok(member), Ok(found)) = asked else {
        tracing::debug!(
            channel = channel.get(),
            "the bot's permissions in a channel could not be read"
        );
        return None;
    };
    let found = found.guild()?;
    let perms = permissions_in(guild, &roles, &member, &found);
    Some(
        Need::ALL
            .into_iter()
            .filter(|n| !perms.contains(flag(*n)))
            .collect(),
    )
}

/// Discord's permission for a need.
fn flag(n: Need) -> Permissions {
    match n {
        Need::View => Permissions::VIEW_CHANNEL,
        Need::Send => Permissions::SEND_MESSAGES,
        Need::Embed => Permissions::EMBED_LINKS,
        Need::Attach => Permissions::ATTACH_FILES,
    }
}

/// A member's permissions in a channel, as Discord computes them: the `@everyone` role and
/// the member's roles, then the channel's overwrites: `@everyone`'s, the member's roles'
/// together, the member's own. Administrator is every permission.
pub fn permissions_in(
    guild: GuildId,
    roles: &[Role],
    member: &Member,
    channel: &GuildChannel,
) -> Permissions {
    let everyone = RoleId::new(guild.get());
    let mut p = roles
        .iter()
        .filter(|r| r.id == everyone || member.roles.contains(&r.id))
        .fold(Permissions::empty(), |p, r| p | r.permissions);
    if p.administrator() {
        return Permissions::all();
    }
    let overwrites = &channel.permission_overwrites;
    if let Some(o) = overwrites
        .iter()
        .find(|o| o.kind == PermissionOverwriteType::Role(everyone))
    {
        p = (p & !o.deny) | o.allow;
    }
    let (mut deny, mut allow) = (Permissions::empty(), Permissions::empty());
    for o in overwrites {
        if let PermissionOverwriteType::Role(r) = o.kind {
            if r != everyone && member.roles.contains(&r) {
                deny |= o.deny;
                allow |= o.allow;
            }
        }
    }
    p = (p & !deny) | allow;
    if let Some(o) = overwrites
        .iter()
        .find(|o| o.kind == PermissionOverwriteType::Member(member.user.id))
    {
        p = (p & !o.deny) | o.allow;
    }
    p
}

/// Answers a slash command: directly when quick, deferred first when not. A user error is
/// shown to the caller alone; an internal one is logged and answered briefly.
pub async fn respond(ctx: &Context, app: Arc<App>, pages: &Pages, cmd: CommandInteraction) {
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
    // A channel the request names (or this one, for a subscription): can the bot post there?
    let target = match &command.request {
        Request::Alerts(AlertsRequest::Channel { channel }) => Some(channel.0),
        Request::Subscribe(s) => Some(s.channel.map_or(caller.channel, |c| c.0)),
        _ => None,
    };
    let mut caller = caller;
    if let (Some(channel), Some(guild)) = (target, cmd.guild_id) {
        caller.channel_check = bot_lacks(ctx, guild, ChannelId::new(channel))
            .await
            .map(|missing| ChannelCheck { channel, missing });
    }
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
        Ok(reply) => send_reply(ctx, pages, &cmd, &reply, lang, deferred).await,
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

/// Sends a reply as an embed; a reply with pages gets ◀ ▶ buttons, and is kept in `pages`
/// for the button handler to turn them.
async fn send_reply(
    ctx: &Context,
    pages: &Pages,
    cmd: &CommandInteraction,
    reply: &Reply,
    lang: Lang,
    deferred: bool,
) {
    let id = cmd.id.get();
    let mut components = Vec::new();
    if reply.pages.len() > 1 {
        components.push(CreateActionRow::Buttons(vec![
            CreateButton::new(button_id(id, false)).emoji('◀'),
            CreateButton::new(button_id(id, true)).emoji('▶'),
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
    // Kept before it is sent: a press the moment the message shows finds its pages. A reply
    // Discord refused is forgotten with the others, when its time is up.
    pages.keep(id, reply, lang);
    if let Err(e) = send(ctx, cmd, deferred, answer).await {
        tracing::warn!(command = %cmd.data.name, error = %e, "sending a reply");
    }
}

/// The values read for a suggestion, or none (logged) when the store cannot be read.
fn logged(values: anyhow::Result<impl Iterator<Item = String>>, doing: &str) -> Vec<String> {
    match values {
        Ok(v) => v.collect(),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "{doing}");
            Vec::new()
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
    let guild = cmd.guild_id.map_or(CONSOLE, |g| g.get());
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
        Some(Suggest::Watched) => logged(
            crate::commands::watch::visible(&*app, guild).map(|v| v.into_iter().map(|e| e.name)),
            "reading a server's names",
        ),
        // What `/watch remove` can take out: this server's own list.
        Some(Suggest::Listed) => logged(
            app.ctx()
                .store
                .watch_list(guild)
                .map(|v| v.into_iter().map(|e| e.name)),
            "reading a server's list",
        ),
        Some(Suggest::Feed) => logged(
            app.ctx()
                .store
                .feeds(Some(guild))
                .map(|v| v.into_iter().map(|f| f.url)),
            "reading a server's feeds",
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(id: &str, permissions: &str) -> serde_json::Value {
        json!({"id": id, "name": "r", "color": 0, "colors": {"primary_color": 0}, "hoist": false,
            "managed": false, "mentionable": false, "permissions": permissions, "position": 1})
    }

    fn channel(overwrites: serde_json::Value) -> GuildChannel {
        serde_json::from_value(
            json!({"id": "4200", "type": 0, "guild_id": "5000", "name": "alertes",
            "position": 1, "permission_overwrites": overwrites}),
        )
        .expect("a channel")
    }

    #[test]
    fn a_channel_s_overwrites_decide_what_the_bot_may_do_there() {
        let guild = GuildId::new(5000);
        // @everyone may view, send, embed and attach (1024 + 2048 + 16384 + 32768).
        let roles: Vec<Role> = serde_json::from_value(json!([
            role("5000", "52224"),
            role("77", "0"),
            role("88", "8")
        ]))
        .expect("roles");
        let member: Member = serde_json::from_value(json!({"user": {"id": "1000", "username": "veille"},
            "roles": ["77"], "deaf": false, "mute": false, "flags": 0, "joined_at": "2025-01-01T00:00:00Z"}))
        .expect("a member");
        let lacks = |ch: &GuildChannel, m: &Member| {
            let p = permissions_in(guild, &roles, m, ch);
            Need::ALL
                .into_iter()
                .filter(|n| !p.contains(flag(*n)))
                .collect::<Vec<_>>()
        };
        assert!(lacks(&channel(json!([])), &member).is_empty());
        // The bot's role denied Send Messages there.
        let denied = channel(json!([{"id": "77", "type": 0, "allow": "0", "deny": "2048"}]));
        assert_eq!(lacks(&denied, &member), [Need::Send]);
        // @everyone denied View Channel, the bot's role allowed back Embed Links only.
        let hidden = channel(json!([
            {"id": "5000", "type": 0, "allow": "0", "deny": "1024"},
            {"id": "77", "type": 0, "allow": "16384", "deny": "0"}
        ]));
        assert_eq!(lacks(&hidden, &member), [Need::View]);
        // The bot itself allowed back what its role lost.
        let member_allowed = channel(json!([
            {"id": "77", "type": 0, "allow": "0", "deny": "34816"},
            {"id": "1000", "type": 1, "allow": "34816", "deny": "0"}
        ]));
        assert!(lacks(&member_allowed, &member).is_empty());
        // An administrator may do everything, overwrites or not.
        let mut admin = member.clone();
        admin.roles = vec![RoleId::new(88)];
        assert!(lacks(&denied, &admin).is_empty());
    }
}
