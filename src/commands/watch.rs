//! `/watch add`, `/watch remove`, `/watch list`: the names a server watches, and the union of
//! every server's list with the configuration's that the sources watch.

use super::reply::{Caller, Reply};
use super::{CommandError, CommandResult, Process};
use crate::model::{EntityKind, EntitySpec};
use crate::store::Store;
use crate::watch::fold::fold;

/// Everything watched: the names for everyone (`base`), then each server's. A name several
/// servers watch is watched once (aliases merged); an alias another name already owns is
/// left to that name, so the union is always a valid watch list.
pub fn union(base: &[EntitySpec], store: &Store) -> anyhow::Result<Vec<EntitySpec>> {
    let mut union = base.to_vec();
    let mut owned: std::collections::HashSet<String> = union
        .iter()
        .flat_map(|e| std::iter::once(&e.name).chain(&e.aliases))
        .map(|t| fold(t.trim()))
        .collect();
    for (_, e) in store.all_watched()? {
        let name = fold(e.name.trim());
        let fresh: Vec<String> = e
            .aliases
            .iter()
            .filter(|a| owned.insert(fold(a.trim())))
            .cloned()
            .collect();
        if let Some(existing) = union.iter_mut().find(|u| fold(u.name.trim()) == name) {
            existing.aliases.extend(fresh);
        } else if owned.insert(name) {
            union.push(EntitySpec {
                aliases: fresh,
                ..e
            });
        }
    }
    Ok(union)
}

/// The names a server may read (`/buzz`, suggestions, `/status`): the configuration's and
/// those in its own list, never another server's. Each under the name the watcher counts it
/// by, with the aliases the configuration or this server gave it.
pub fn visible(process: &dyn Process, guild: u64) -> anyhow::Result<Vec<EntitySpec>> {
    let ctx = process.ctx();
    let own = ctx.store.watch_list(guild)?;
    let mut out: Vec<EntitySpec> = Vec::new();
    for spec in process.base_entities().iter().chain(&own) {
        let folded = fold(spec.name.trim());
        let name = ctx
            .entities
            .iter()
            .find(|e| fold(e.name.trim()) == folded)
            .map_or_else(|| spec.name.clone(), |e| e.name.clone());
        match out.iter_mut().find(|e| fold(&e.name) == folded) {
            Some(e) => e.aliases.extend(spec.aliases.iter().cloned()),
            None => out.push(EntitySpec {
                name,
                ..spec.clone()
            }),
        }
    }
    Ok(out)
}

/// `/watch add name [aliases] [kind]`: the server watches `name` from now on (a name it
/// watched already is updated). A name or alias the configuration or another server already
/// watches designates that entity: the server follows it, with its own other names added
/// where no other entity has them.
pub fn add(
    process: &dyn Process,
    caller: &Caller,
    name: &str,
    aliases: Option<&str>,
    kind: Option<&str>,
) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let name = name.trim();
    if name.is_empty() {
        return Err(CommandError::user_in(
            caller.lang,
            "donnez le nom à surveiller",
            "give the name to watch",
        ));
    }
    let kind = match kind {
        Some(k) => Some(EntityKind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = EntityKind::ALL
                .iter()
                .map(|k| k.label(caller.lang))
                .collect();
            CommandError::user_in(
                caller.lang,
                format!("type inconnu : {k} ({})", all.join(", ")),
                format!("unknown kind: {k} ({})", all.join(", ")),
            )
        })?),
        None => None,
    };
    let aliases: Vec<String> = aliases
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect();
    let base = process.base_entities();
    let all = union(base, &ctx.store)?;
    let owner = |term: &str| -> Option<&EntitySpec> {
        let t = fold(term.trim());
        all.iter()
            .find(|e| fold(e.name.trim()) == t || e.aliases.iter().any(|a| fold(a.trim()) == t))
    };
    // The entities the name and the aliases already designate.
    let mut designated: Vec<&EntitySpec> = Vec::new();
    for e in std::iter::once(name)
        .chain(aliases.iter().map(String::as_str))
        .filter_map(owner)
    {
        if !designated.iter().any(|d| d.name == e.name) {
            designated.push(e);
        }
    }
    let (spec, followed) = match designated.as_slice() {
        [] => (
            EntitySpec {
                name: name.to_string(),
                kind: kind.unwrap_or(EntityKind::Brand),
                aliases: aliases.clone(),
                ambiguous: false,
                exclude: Vec::new(),
            },
            None,
        ),
        [e] => {
            // This server follows `e`; its other names go with it where nobody has them.
            let mine = ctx
                .store
                .watch_list(caller.guild)?
                .into_iter()
                .find(|w| fold(&w.name) == fold(&e.name));
            let already_mine = mine.is_some();
            let mut own = mine.map_or_else(Vec::new, |w| w.aliases);
            for term in std::iter::once(name).chain(aliases.iter().map(String::as_str)) {
                let known = owner(term).is_some() || own.iter().any(|a| fold(a) == fold(term));
                if !known {
                    own.push(term.to_string());
                }
            }
            (
                EntitySpec {
                    name: e.name.clone(),
                    kind: e.kind,
                    aliases: own,
                    ambiguous: e.ambiguous,
                    exclude: Vec::new(),
                },
                // Its own name again: an update, not a new follow.
                (!already_mine).then(|| (*e).clone()),
            )
        }
        several => {
            let terms: Vec<String> = std::iter::once(name)
                .chain(aliases.iter().map(String::as_str))
                .filter(|t| owner(t).is_some())
                .map(|t| format!("« {t} »"))
                .collect();
            let _ = several;
            return Err(CommandError::user_in(
                caller.lang,
                format!(
                    "{} désignent déjà des noms différents : ajoutez-les séparément",
                    terms.join(", ")
                ),
                format!(
                    "{} already designate different names: add them one at a time",
                    terms.join(", ")
                ),
            ));
        }
    };
    // The new list must make a valid watcher with everything else watched.
    let mut check = all.clone();
    check.retain(|e| fold(&e.name) != fold(&spec.name));
    check.push(match designated.first() {
        Some(e) => (*e).clone(),
        None => spec.clone(),
    });
    crate::config::validate_entities(&check).map_err(CommandError::Internal)?;
    let new = ctx.store.put_watched(caller.guild, &spec)?;
    process.rewatch();
    let extra = |lang: crate::model::Lang| {
        let added: Vec<String> = spec
            .aliases
            .iter()
            .filter(|a| fold(a) != fold(&spec.name))
            .map(|a| format!("« {a} »"))
            .collect();
        match (added.is_empty(), lang) {
            (true, _) => String::new(),
            (false, crate::model::Lang::Fr) => format!(", avec aussi {}", added.join(", ")),
            (false, crate::model::Lang::En) => format!(", also as {}", added.join(", ")),
        }
    };
    let body = match &followed {
        None => caller.tr(
            format!(
                "{} {} ({}){}. Les sources le suivent dès maintenant.",
                spec.name,
                if new {
                    "est surveillé"
                } else {
                    "est mis à jour"
                },
                spec.kind.label(crate::model::Lang::Fr),
                extra(crate::model::Lang::Fr),
            ),
            format!(
                "{} {} ({}){}. The sources follow it from now on.",
                spec.name,
                if new { "is watched" } else { "is updated" },
                spec.kind.label(crate::model::Lang::En),
                extra(crate::model::Lang::En),
            ),
        ),
        Some(e) => {
            let for_everyone = base.iter().any(|b| fold(&b.name) == fold(&e.name));
            let via = if fold(name) == fold(&e.name) {
                String::new()
            } else {
                caller.tr(
                    format!("« {name} » désigne {} : ", e.name),
                    format!("“{name}” is {}: ", e.name),
                )
            };
            let already = if for_everyone {
                caller.tr(
                    " (déjà surveillé pour tous)",
                    " (already watched for everyone)",
                )
            } else {
                String::new()
            };
            caller.tr(
                format!(
                    "{via}ce serveur suit {}{already}{}. Ses alertes et son buzz sont maintenant les vôtres.",
                    e.name,
                    extra(crate::model::Lang::Fr)
                ),
                format!(
                    "{via}this server follows {}{already}{}. Its alerts and buzz are now yours.",
                    e.name,
                    extra(crate::model::Lang::En)
                ),
            )
        }
    };
    Ok(Reply::done(
        caller.tr("Nom surveillé", "Name watched"),
        body,
    ))
}

/// `/watch remove name`: the server no longer watches `name`.
pub fn remove(process: &dyn Process, caller: &Caller, name: &str) -> CommandResult<Reply> {
    match process.ctx().store.remove_watched(caller.guild, name)? {
        Some(e) => {
            process.rewatch();
            Ok(Reply::done(
                caller.tr("Nom retiré", "Name removed"),
                caller.tr(
                    format!("{} n'est plus surveillé par ce serveur.", e.name),
                    format!("{} is no longer watched by this server.", e.name),
                ),
            ))
        }
        None => Err(CommandError::user_in(
            caller.lang,
            format!("{name} n'est pas dans la liste de ce serveur (/watch list)"),
            format!("{name} is not in this server's list (/watch list)"),
        )),
    }
}

/// `/watch list`: the server's names, and those watched for everyone.
pub fn list(process: &dyn Process, caller: &Caller) -> CommandResult<Reply> {
    let own = process.ctx().store.watch_list(caller.guild)?;
    let line = |e: &EntitySpec| {
        let mut s = format!("• {} ({})", e.name, e.kind.id());
        if !e.aliases.is_empty() {
            s.push_str(&format!(" — {}", e.aliases.join(", ")));
        }
        s
    };
    let mut body = if own.is_empty() {
        caller.tr(
            "Ce serveur ne surveille encore aucun nom : /watch add nom",
            "This server watches no name yet: /watch add name",
        )
    } else {
        own.iter().map(line).collect::<Vec<_>>().join("\n")
    };
    let base = process.base_entities();
    if !base.is_empty() {
        let names: Vec<&str> = base.iter().map(|e| e.name.as_str()).collect();
        body.push_str(&caller.tr(
            format!(
                "\n\nSurveillés pour tous par la configuration : {}",
                names.join(", ")
            ),
            format!(
                "\n\nWatched for everyone by the configuration: {}",
                names.join(", ")
            ),
        ));
    }
    Ok(Reply::text(
        caller.tr("Noms surveillés", "Watched names"),
        body,
    ))
}
