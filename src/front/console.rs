//! The console front-end: the slash commands typed at a prompt (history, completion of
//! command names) or read from standard input one a line, answered as text. Charts are saved
//! as PNG files and their paths printed. Alerts (the console notifier) and the console's
//! subscriptions' monthly positions print here too.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::{Context as RlContext, Helper, Highlighter, Hinter, Validator};

use crate::app::App;
use crate::commands::outbox::{BotPost, PostBody};
use crate::commands::request::{self, Invocation, OptionKind};
use crate::commands::{Caller, CommandError, CommandResult, Reply};
use crate::model::Lang;
use crate::store::servers::CONSOLE;

/// The console's language: English when `LANG` says so, French otherwise.
pub fn lang() -> Lang {
    std::env::var("LANG")
        .map(|l| Lang::from_locale(&l))
        .unwrap_or_default()
}

/// Answers one line as the console prints it (no trailing newline); `None` for a blank line
/// or a comment.
pub fn answer(app: &App, caller: &Caller, line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let result = parse(line, caller.lang).and_then(|command| {
        let r = request::run(app, caller, &command);
        if let Err(e) = &r {
            e.log(command.path);
        }
        r
    });
    Some(match result {
        Ok(reply) => render(app, &reply),
        Err(e) => format!("⚠ {}", e.reply(caller.lang)),
    })
}

/// Parses a console line: `/rank villes twitter`, options by position or as `name:value`
/// (`/rank villes twitter month:2014-09`, English or French names), quotes (`"…"`, `'…'`,
/// `«…»`) around values with spaces; the leading slash is optional. A free text (`/classify`)
/// is the rest of the line as typed.
pub fn parse(line: &str, lang: Lang) -> CommandResult<Invocation> {
    let line = line.trim().trim_start_matches('/');
    let heads: Vec<&str> = line.split_whitespace().take(2).collect();
    let (command, used) = request::find(&heads, lang)?;
    let rest = skip_words(line, used);
    let mut values: Vec<(String, String)> = Vec::new();
    if let Some(free) = command
        .options
        .iter()
        .find(|o| matches!(o.kind, OptionKind::Text { free: true, .. }))
    {
        let text = match rest.split_once(':') {
            Some((k, v)) if free.is_named(k) => v.trim(),
            _ => rest,
        };
        if !text.is_empty() {
            values.push((free.name.clone(), text.to_string()));
        }
        return request::parse(command, &values, lang);
    }
    let words = split(rest).ok_or_else(|| {
        CommandError::user_in(
            lang,
            "un guillemet n'est pas fermé",
            "a quote is not closed",
        )
    })?;
    let mut positional = Vec::new();
    for w in words {
        match w.split_once(':') {
            Some((k, v)) if is_option_name(k) && !v.starts_with("//") => {
                values.push((k.to_string(), v.to_string()))
            }
            _ => positional.push(w),
        }
    }
    let named: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
    let mut free_slots = command
        .options
        .iter()
        .filter(|o| !named.iter().any(|k| o.is_named(k)));
    for w in positional {
        match free_slots.next() {
            Some(o) => values.push((o.name.clone(), w)),
            None => {
                return Err(CommandError::user_in(
                    lang,
                    format!("trop d'arguments pour /{} : {w:?}", command.path),
                    format!("too many arguments for /{}: {w:?}", command.path),
                ))
            }
        }
    }
    request::parse(command, &values, lang)
}

/// `line` after its first `n` words, as typed.
fn skip_words(line: &str, n: usize) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..n {
        rest = rest
            .trim_start_matches(|c: char| !c.is_whitespace())
            .trim_start();
    }
    rest
}

/// Whether `k` (before a `:`) can be an option's name: letters, `_` and `-`.
fn is_option_name(k: &str) -> bool {
    k.chars().next().is_some_and(char::is_alphabetic)
        && k.chars().all(|c| c.is_alphabetic() || c == '_' || c == '-')
}

/// Splits the options of a line as a shell would (shlex), with French quotes (`«…»`, `“…”`)
/// as double quotes, an apostrophe inside a word (`d'Or`) as a letter and `#` as a letter
/// (hashtags are not comments). `None` when a quote is not closed.
fn split(options: &str) -> Option<Vec<String>> {
    let mut shell = String::with_capacity(options.len() + 8);
    let mut quoted = None;
    let chars: Vec<char> = options.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let c = match c {
            '«' | '»' | '“' | '”' => '"',
            c => c,
        };
        match (quoted, c) {
            (None, '"' | '\'') => {
                let inside_word = c == '\''
                    && i > 0
                    && chars[i - 1].is_alphanumeric()
                    && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                if inside_word {
                    shell.push('\\');
                } else {
                    quoted = Some(c);
                }
            }
            (Some(q), c) if c == q => quoted = None,
            // A hashtag is a word, not a shell comment.
            (None, '#') => shell.push('\\'),
            _ => {}
        }
        shell.push(c);
    }
    Some(
        shlex::split(&shell)?
            .into_iter()
            .map(|w| w.trim().to_string())
            .collect(),
    )
}

/// A reply as text, its chart saved under the configured charts directory.
pub fn render(app: &App, reply: &Reply) -> String {
    let mut text = reply.plain();
    if let Some(img) = &reply.image {
        let dir = app.ctx().config.alerts.charts_dir.clone();
        match save(&dir, &img.name, &img.png) {
            Ok(path) => text.push_str(&format!("\n📈 {}", path.display())),
            Err(e) => {
                let e = CommandError::Internal(e);
                e.log("console chart");
                text.push_str(&format!("\n⚠ {}", e.reply(lang())));
            }
        }
    }
    text
}

fn save(dir: &Path, name: &str, png: &[u8]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f");
    let path = dir.join(format!("{stamp}-{name}"));
    std::fs::write(&path, png)?;
    Ok(path)
}

/// A queued message for the console, as it prints (times in `tz`).
pub fn post_text(p: &BotPost, tz: chrono_tz::Tz) -> String {
    match &p.body {
        PostBody::Position { title, text } => format!("📅 {title}\n{text}"),
        PostBody::Alert { out, .. } => crate::alerts::notify::message(out, tz, p.lang),
    }
}

/// Prints the console's owed messages (its subscriptions' positions) as they are queued,
/// until the app stops.
pub async fn deliver(app: Arc<App>) {
    let tz = crate::commands::collect::timezone(&app.ctx()).unwrap_or(chrono_tz::Europe::Paris);
    loop {
        let store = app.ctx().store.clone();
        let pending = tokio::task::spawn_blocking(move || {
            let posts: Vec<(u64, BotPost)> = store.pending_posts()?;
            let mut out = std::io::stdout().lock();
            for (id, p) in posts.into_iter().filter(|(_, p)| p.guild == CONSOLE) {
                writeln!(out, "{}", post_text(&p, tz))?;
                store.ack_post(id)?;
            }
            out.flush()?;
            anyhow::Ok(())
        })
        .await;
        if let Ok(Err(e)) = pending {
            tracing::error!(error = format!("{e:#}"), "printing the console's messages");
        }
        tokio::select! {
            _ = app.posts_ready.notified() => {}
            _ = app.cancel.cancelled() => return,
        }
    }
}

#[derive(Helper, Hinter, Highlighter, Validator)]
struct Commands;

impl Completer for Commands {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &RlContext<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let typed = line[..pos].trim_start().trim_start_matches('/');
        let candidates = request::specs()
            .iter()
            .flat_map(|c| c.leaves())
            .filter(|c| c.path.starts_with(typed))
            .map(|c| Pair {
                display: format!("/{}", c.path),
                replacement: format!("/{} ", c.path),
            })
            .collect();
        Ok((line.len() - line.trim_start().len(), candidates))
    }
}

/// Reads commands until the end of the input (or ctrl-D, ctrl-C at the prompt), blocking:
/// at a terminal with a prompt, otherwise one command a line from standard input.
pub fn read_commands(app: &App) -> anyhow::Result<()> {
    let caller = Caller::console(lang());
    if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin().lock();
        for line in stdin.lines() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("veille: a line of the input is not text ({e}); it is skipped");
                    continue;
                }
            };
            if let Some(text) = answer(app, &caller, &line) {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{text}\n")?;
                out.flush()?;
            }
        }
        return Ok(());
    }
    let mut editor: rustyline::Editor<Commands, rustyline::history::FileHistory> =
        rustyline::Editor::new()?;
    editor.set_helper(Some(Commands));
    // The log goes to a file (see `cli::logging`): a source's trouble shows here as a plain
    // line, once, above the prompt.
    let printer = editor.create_external_printer().ok();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        if let Some(mut printer) = printer {
            let stop = &stop;
            scope.spawn(move || {
                use rustyline::ExternalPrinter;
                troubles(app, caller.lang, stop, &mut |line| {
                    let _ = printer.print(format!("{line}\n"));
                })
            });
        }
        let done = prompt(app, &caller, &mut editor);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        done
    })
}

/// The prompt's loop, until ctrl-D, ctrl-C or the app stops.
fn prompt(
    app: &App,
    caller: &Caller,
    editor: &mut rustyline::Editor<Commands, rustyline::history::FileHistory>,
) -> anyhow::Result<()> {
    let history = app
        .ctx()
        .config
        .store
        .path
        .parent()
        .map(|p| p.join("console_history.txt"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let log = app.ctx().config.log_file();
    println!(
        "{}",
        match caller.lang {
            Lang::Fr => format!(
                "Console de Veille : tapez /help, ou /rank villes twitter ; ctrl-D pour quitter. Journal : {}",
                log.display()
            ),
            Lang::En => format!(
                "Veille console: type /help, or /rank villes twitter; ctrl-D quits. Log: {}",
                log.display()
            ),
        }
    );
    loop {
        match editor.readline("veille> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Some(text) = answer(app, caller, &line) {
                    println!("{text}\n");
                }
                if app.cancel.is_cancelled() {
                    break;
                }
            }
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// Says each change of a source's trouble once, until `stop`: a source that fails, pauses or
/// stops, a feed that cannot be read, and a source that reads again.
fn troubles(
    app: &App,
    lang: Lang,
    stop: &std::sync::atomic::AtomicBool,
    say: &mut dyn FnMut(String),
) {
    use crate::ingest::feeds::FeedState;
    use crate::ingest::pipeline::SourceState;
    let caller = Caller::console(lang);
    let tz = crate::commands::collect::timezone(&app.ctx()).unwrap_or(chrono_tz::Europe::Paris);
    let mut said: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) && !app.cancel.is_cancelled() {
        let status = crate::commands::Process::status(app);
        for (name, state) in &status.states {
            let line = match state {
                SourceState::Connecting | SourceState::Running => None,
                other => Some(crate::commands::status::source_line(
                    name,
                    Some(other),
                    &caller,
                    tz,
                )),
            };
            match (line, said.get(name)) {
                (Some(l), Some(before)) if *before == l => {}
                (Some(l), _) => {
                    say(l.clone());
                    said.insert(name.clone(), l);
                }
                (None, Some(_)) if *state == SourceState::Running => {
                    say(crate::commands::status::source_line(
                        name,
                        Some(state),
                        &caller,
                        tz,
                    ));
                    said.remove(name);
                }
                (None, _) => {}
            }
        }
        for (url, state) in &status.feeds {
            let key = format!("feed {url}");
            let line = match state {
                FeedState::Failing { why, .. } | FeedState::Stopped { why } => {
                    Some(format!("⚠ {url} : {}", why.describe(lang)))
                }
                _ => None,
            };
            match line {
                Some(l) if said.get(&key) != Some(&l) => {
                    say(l.clone());
                    said.insert(key, l);
                }
                Some(_) => {}
                None => {
                    said.remove(&key);
                }
            }
        }
        for _ in 0..10 {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::request::{AlertsRequest, ChannelRef, Rows, WatchRequest};
    use crate::commands::Request;

    fn req(line: &str) -> Request {
        parse(line, Lang::Fr).expect(line).request
    }

    #[test]
    fn console_lines_parse_like_slash_commands() {
        assert_eq!(
            req("/rank villes twitter"),
            Request::Rank {
                category: "villes".into(),
                platform: "twitter".into(),
                metric: None,
                month: None,
                top: None
            }
        );
        assert_eq!(
            req("rank villes twitter month:2014-09 top:5"),
            Request::Rank {
                category: "villes".into(),
                platform: "twitter".into(),
                metric: None,
                month: Some("2014-09".into()),
                top: Some(Rows(5))
            }
        );
        assert_eq!(
            req("/classement villes twitter mois:2014-09"),
            req("/rank villes twitter month:2014-09")
        );
        assert_eq!(
            req("/watch add \"Air France\" \"@airfrance, #airfrance\" brand"),
            Request::Watch(WatchRequest::Add {
                name: "Air France".into(),
                aliases: Some("@airfrance, #airfrance".into()),
                kind: Some("brand".into())
            })
        );
        assert_eq!(
            req("/surveiller ajouter « Côte d'Or » type:departement"),
            Request::Watch(WatchRequest::Add {
                name: "Côte d'Or".into(),
                aliases: None,
                kind: Some("departement".into())
            })
        );
        assert_eq!(
            req("/classify Vol annulé, encore : merci pour rien"),
            Request::Classify {
                text: "Vol annulé, encore : merci pour rien".into()
            }
        );
        assert_eq!(
            req("/classify l'hôtel de ville est fermé"),
            Request::Classify {
                text: "l'hôtel de ville est fermé".into()
            }
        );
        assert_eq!(
            req("/buzz #sncf 7j"),
            Request::Buzz {
                name: "#sncf".into(),
                period: Some("7j".into())
            }
        );
        assert_eq!(
            req("/alerts channel <#42>"),
            Request::Alerts(AlertsRequest::Channel {
                channel: ChannelRef(42)
            })
        );
    }

    #[test]
    fn console_mistakes_are_explained() {
        let err = |line: &str, lang| parse(line, lang).expect_err(line).to_string();
        assert!(err("/rank villes", Lang::Fr).contains("il manque platform"));
        assert!(err("/watch", Lang::Fr).contains("/watch add"));
        assert!(err("/frobnicate", Lang::En).contains("unknown command: /frobnicate"));
        assert!(err("/ranc villes twitter", Lang::Fr).contains("vouliez-vous dire /rank"));
        assert!(err("/rank villes twitter mnth:2014-09", Lang::En).contains("did you mean month?"));
        assert!(
            err("/rank villes twitter posts 2014-09 5 6", Lang::Fr).contains("trop d'arguments")
        );
        assert!(err("/watch add \"Air France", Lang::En).contains("quote is not closed"));
        assert!(err("/classify", Lang::Fr).contains("il manque text"));
    }
}
