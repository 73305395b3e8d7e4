//! Who asks a command ([`Caller`]) and what it answers ([`Reply`]), front-end neutral: the
//! Discord bot renders a reply as an embed, the console as text.

use crate::model::Lang;
use crate::store::servers::CONSOLE;

use super::{CommandError, CommandResult};

/// Rows per page of a ranking.
pub const PAGE_ROWS: usize = 10;

/// Who asks, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The server (Discord guild id; [`CONSOLE`] for the console).
    pub guild: u64,
    /// The channel.
    pub channel: u64,
    /// The user id (0 on the console).
    pub user: u64,
    /// Their display name.
    pub user_name: String,
    /// Whether they may change the server's settings (Manage Server).
    pub can_manage: bool,
    /// The reply's language (their locale).
    pub lang: Lang,
    /// What the bot may not do in the channel the request names, as Discord says it (none
    /// on the console, or when it could not be asked).
    pub channel_check: Option<ChannelCheck>,
}

/// What the bot lacks in a channel to post alerts and positions there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCheck {
    /// The channel.
    pub channel: u64,
    /// The permissions it lacks there (none: it may post).
    pub missing: Vec<Need>,
}

/// A permission the bot needs in a channel it posts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// View Channel.
    View,
    /// Send Messages.
    Send,
    /// Embed Links (alerts and positions are embeds).
    Embed,
    /// Attach Files (the charts).
    Attach,
}

impl Need {
    /// Every permission the bot needs, in Discord's order.
    pub const ALL: [Need; 4] = [Need::View, Need::Send, Need::Embed, Need::Attach];

    /// Its name as Discord shows it, in `lang`.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Need::View, Lang::Fr) => "Voir le salon",
            (Need::Send, Lang::Fr) => "Envoyer des messages",
            (Need::Embed, Lang::Fr) => "Intégrer des liens",
            (Need::Attach, Lang::Fr) => "Joindre des fichiers",
            (Need::View, Lang::En) => "View Channel",
            (Need::Send, Lang::En) => "Send Messages",
            (Need::Embed, Lang::En) => "Embed Links",
            (Need::Attach, Lang::En) => "Attach Files",
        }
    }
}

impl Caller {
    /// The person at the console: every right, French unless `LANG` says English.
    pub fn console(lang: Lang) -> Caller {
        Caller {
            guild: CONSOLE,
            channel: 0,
            user: 0,
            user_name: "console".into(),
            can_manage: true,
            lang,
            channel_check: None,
        }
    }

    /// Refuses a channel the bot cannot post in (as the front-end found it), naming what it
    /// lacks there.
    pub fn must_post_in(&self, channel: u64) -> CommandResult<()> {
        let Some(check) = self
            .channel_check
            .as_ref()
            .filter(|c| c.channel == channel && !c.missing.is_empty())
        else {
            return Ok(());
        };
        let names = |lang| {
            check
                .missing
                .iter()
                .map(|n| format!("« {} »", n.name(lang)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(CommandError::user_in(
            self.lang,
            format!(
                "Veille ne peut pas poster dans {} : il lui manque {} dans ce salon. Donnez-les à son rôle dans les permissions du salon, ou choisissez un autre salon.",
                channel_ref(channel),
                names(Lang::Fr)
            ),
            format!(
                "Veille cannot post in {}: it lacks {} in that channel. Give them to its role in the channel's permissions, or choose another channel.",
                channel_ref(channel),
                names(Lang::En)
            ),
        ))
    }

    /// Refuses a caller without Manage Server, saying why in their language.
    pub fn must_manage(&self, fr: &str, en: &str) -> CommandResult<()> {
        if self.can_manage {
            Ok(())
        } else {
            Err(CommandError::user_in(self.lang, fr, en))
        }
    }

    /// `fr` or `en`, in the caller's language.
    pub fn tr(&self, fr: impl Into<String>, en: impl Into<String>) -> String {
        match self.lang {
            Lang::Fr => fr.into(),
            Lang::En => en.into(),
        }
    }
}

/// How a reply looks (the embed's colour on Discord).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    /// Information.
    #[default]
    Info,
    /// Done, or calm.
    Good,
    /// Something to look at.
    Warn,
    /// Critical.
    Bad,
}

/// A PNG to attach.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Its file name (`chart.png`).
    pub name: String,
    /// The bytes.
    pub png: Vec<u8>,
}

/// A reply, front-end neutral.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// The title.
    pub title: String,
    /// The text under it.
    pub body: String,
    /// Blocks shown one at a time (a ranking's pages of [`PAGE_ROWS`] rows), monospaced.
    pub pages: Vec<String>,
    /// Named values.
    pub fields: Vec<(String, String)>,
    /// The small print (sources).
    pub footer: Option<String>,
    /// A chart.
    pub image: Option<Image>,
    /// A verdict the team can correct: its reference id.
    pub verdict: Option<String>,
    /// Only the caller sees it.
    pub ephemeral: bool,
    /// Its colour.
    pub tone: Tone,
}

impl Reply {
    /// A title and a text.
    pub fn text(title: impl Into<String>, body: impl Into<String>) -> Reply {
        Reply {
            title: title.into(),
            body: body.into(),
            ..Reply::default()
        }
    }

    /// A title and a text saying something was done.
    pub fn done(title: impl Into<String>, body: impl Into<String>) -> Reply {
        Reply {
            tone: Tone::Good,
            ..Reply::text(title, body)
        }
    }

    /// The reply as plain text (the console, logs, tests): title, body, every page,
    /// fields, footer.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&self.title);
            out.push('\n');
        }
        if !self.body.is_empty() {
            out.push_str(&self.body);
            out.push('\n');
        }
        for p in &self.pages {
            out.push_str(p);
            out.push('\n');
        }
        for (k, v) in &self.fields {
            out.push_str(&format!("{k} : {v}\n"));
        }
        if let Some(f) = &self.footer {
            out.push_str(f);
            out.push('\n');
        }
        out.trim_end().to_string()
    }
}

/// A channel as a reply names it (`<#42>`, which Discord shows as its name).
pub fn channel_ref(channel: u64) -> String {
    if channel == 0 {
        "la console".into()
    } else {
        format!("<#{channel}>")
    }
}
