//! The console front-end: the slash commands typed at a prompt (history, completion of
//! command names) or read from standard input one a line, answered as text. Charts are saved
//! as PNG files and their paths printed. Alerts (the console notifier) and the console's
//! subscriptions' monthly positions print here too.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::{Context as RlContext, Helper, Highlighter, Hinter, Validator};

use super::posts::{BotPost, PostBody};
use super::{handle, parse, Caller, Reply, SPECS};
use crate::app::App;
use crate::commands::CommandError;
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
    let result = parse(line, caller.lang).and_then(|req| {
        let r = handle(app, caller, &req);
        if let Err(e) = &r {
            e.log(req.name());
        }
        r
    });
    Some(match result {
        Ok(reply) => render(app, &reply),
        Err(e) => format!("⚠ {}", e.reply(caller.lang)),
    })
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
        let candidates = SPECS
            .iter()
            .filter(|s| s.path.starts_with(typed))
            .map(|s| Pair {
                display: format!("/{}", s.path),
                replacement: format!("/{} ", s.path),
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
    println!(
        "{}",
        match caller.lang {
            Lang::Fr =>
                "Console de Veille : tapez /help, ou /rank villes twitter ; ctrl-D pour quitter.",
            Lang::En => "Veille console: type /help, or /rank villes twitter; ctrl-D quits.",
        }
    );
    loop {
        match editor.readline("veille> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Some(text) = answer(app, &caller, &line) {
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
