//! The slash commands as Discord registers them, read off their one declaration
//! ([`crate::commands::request`]): names and descriptions in English with French
//! localizations, options with their types, bounds, choices and suggestions, guild-only, and
//! Manage Server required of the commands that change a server's settings.

use serenity::all::{
    ChannelType, CommandOptionType, CreateCommand, CreateCommandOption, InteractionContext,
    Permissions,
};

use crate::commands::request::{self, CommandSpec, OptionKind, OptionSpec, TEXT_MAX};

/// Discord's locale for French.
const FR: &str = "fr";

/// Every command, as registered.
pub fn commands() -> Vec<CreateCommand> {
    request::specs().iter().map(command).collect()
}

fn command(c: &CommandSpec) -> CreateCommand {
    let mut b = CreateCommand::new(&c.name)
        .description(&c.about_en)
        .description_localized(FR, &c.about_fr)
        // Veille answers in servers only: a server's names, alerts and subscriptions.
        .contexts(vec![InteractionContext::Guild]);
    if let Some(fr) = &c.name_fr {
        b = b.name_localized(FR, fr);
    }
    // Discord sets permissions per top-level command: a group needs Manage Server only when
    // each of its subcommands does (the others are checked again when they run).
    let manage = if c.subcommands.is_empty() {
        c.manage
    } else {
        c.subcommands.iter().all(|s| s.manage)
    };
    if manage {
        b = b.default_member_permissions(Permissions::MANAGE_GUILD);
    }
    for s in &c.subcommands {
        let mut sub = CreateCommandOption::new(CommandOptionType::SubCommand, &s.name, &s.about_en)
            .description_localized(FR, &s.about_fr);
        if let Some(fr) = &s.name_fr {
            sub = sub.name_localized(FR, fr);
        }
        for o in &s.options {
            sub = sub.add_sub_option(option(o));
        }
        b = b.add_option(sub);
    }
    for o in &c.options {
        b = b.add_option(option(o));
    }
    b
}

fn option(o: &OptionSpec) -> CreateCommandOption {
    let kind = match o.kind {
        OptionKind::Integer { .. } => CommandOptionType::Integer,
        OptionKind::Channel => CommandOptionType::Channel,
        OptionKind::Text { .. } | OptionKind::Choice(_) => CommandOptionType::String,
    };
    let mut b = CreateCommandOption::new(kind, &o.name, &o.about_en)
        .description_localized(FR, &o.about_fr)
        .required(o.required);
    if let Some(fr) = &o.name_fr {
        b = b.name_localized(FR, fr);
    }
    match &o.kind {
        OptionKind::Integer { min, max } => {
            b = b.min_int_value(*min as u64).max_int_value(*max as u64);
        }
        OptionKind::Channel => b = b.channel_types(vec![ChannelType::Text]),
        OptionKind::Choice(values) => {
            for (value, fr) in values {
                b = match fr {
                    Some(fr) => b.add_string_choice_localized(value, value, [(FR, fr)]),
                    None => b.add_string_choice(value, value),
                };
            }
        }
        OptionKind::Text { suggest, free } => {
            b = b.set_autocomplete(suggest.is_some());
            if *free {
                b = b.max_length(TEXT_MAX);
            }
        }
    }
    b
}
