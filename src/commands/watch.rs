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

/// `/watch add name [aliases] [kind]`: the server watches `name` from now on (a name it
/// watched already is updated); the sources restart on the new union.
pub fn add(
    process: &dyn Process,
    caller: &Caller,
    name: &str,
    aliases: Option<&str>,
    kind: Option<&str>,
) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let name = name.trim();
    let kind = match kind {
        Some(k) => EntityKind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = EntityKind::ALL.iter().map(|k| k.id()).collect();
            CommandError::user_in(
                caller.lang,
                format!("type inconnu : {k} ({})", all.join(", ")),
                format!("unknown kind: {k} ({})", all.join(", ")),
            )
        })?,
        None => EntityKind::Brand,
    };
    let spec = EntitySpec {
        name: name.to_string(),
        kind,
        aliases: aliases
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
        ambiguous: false,
        exclude: Vec::new(),
    };
    // The new list must make a valid watcher with everything else watched.
    let mut all = union(process.base_entities(), &ctx.store)?;
    let folded = fold(name);
    all.retain(|e| fold(&e.name) != folded);
    all.push(spec.clone());
    crate::config::validate_entities(&all).map_err(|e| {
        CommandError::user_in(
            caller.lang,
            format!("nom refusé : {e}"),
            format!("name refused: {e}"),
        )
    })?;
    let new = ctx.store.put_watched(caller.guild, &spec)?;
    process.rewatch();
    let aliases_fr = if spec.aliases.is_empty() {
        String::new()
    } else {
        format!(", alias : {}", spec.aliases.join(", "))
    };
    let aliases_en = if spec.aliases.is_empty() {
        String::new()
    } else {
        format!(", aliases: {}", spec.aliases.join(", "))
    };
    Ok(Reply::done(
        caller.tr("Nom surveillé", "Name watched"),
        caller.tr(
            format!(
                "{} {} ({}){aliases_fr}. Les sources le suivent dès maintenant.",
                spec.name,
                if new {
                    "est surveillé"
                } else {
                    "est mis à jour"
                },
                kind.id(),
            ),
            format!(
                "{} {} ({}){aliases_en}. The sources follow it from now on.",
                spec.name,
                if new { "is watched" } else { "is updated" },
                kind.id(),
            ),
        ),
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
