//! Where alert events go. A notifier is handed each event once it is stored in the outbox;
//! the event leaves the outbox once every notifier took it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{chart, EventKind, Outgoing};
use crate::model::Lang;

/// Delivers alert events. Blocking: notifiers run on the alert thread.
pub trait Notifier: Send {
    /// Delivers one event; an error keeps it in the outbox for the next start.
    fn notify(&self, out: &Outgoing) -> anyhow::Result<()>;
}

impl<T: Notifier + Sync + ?Sized> Notifier for std::sync::Arc<T> {
    fn notify(&self, out: &Outgoing) -> anyhow::Result<()> {
        (**self).notify(out)
    }
}

/// One JSON line per event (the `replay --alerts` format) to a writer: standard output, or
/// a file opened for appending.
pub struct JsonlNotifier {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonlNotifier {
    /// To any writer.
    pub fn new(out: Box<dyn Write + Send>) -> JsonlNotifier {
        JsonlNotifier {
            out: Mutex::new(out),
        }
    }

    /// Appending to a file (created with its directory).
    pub fn append(path: &std::path::Path) -> anyhow::Result<JsonlNotifier> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
        Ok(JsonlNotifier::new(Box::new(file)))
    }
}

impl Notifier for JsonlNotifier {
    fn notify(&self, out: &Outgoing) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(&out.event)?;
        line.push(b'\n');
        let mut w = self.out.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(&line)?;
        w.flush()?;
        Ok(())
    }
}

/// The console: the message a person reads, and the chart saved as a PNG file.
pub struct ConsoleNotifier {
    /// Where charts are written.
    pub charts_dir: PathBuf,
    /// The labels' time zone.
    pub tz: chrono_tz::Tz,
    /// The language.
    pub lang: Lang,
    /// Where the text goes.
    pub out: Mutex<Box<dyn Write + Send>>,
}

impl Notifier for ConsoleNotifier {
    fn notify(&self, out: &Outgoing) -> anyhow::Result<()> {
        let mut text = message(out, self.tz, self.lang);
        if out.event.event != EventKind::Close {
            let png = chart::png(&chart::ChartSpec {
                title: &out.event.entity,
                series: &out.series,
                bucket_secs: out.bucket_secs,
                alert_window: Some(out.alert_window),
                tz: self.tz,
                lang: self.lang,
            })?;
            std::fs::create_dir_all(&self.charts_dir)?;
            let name: String = format!(
                "{}-{}-{}.png",
                out.event.entity,
                out.event.at.format("%Y%m%dT%H%M"),
                out.event.event.id()
            )
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
            let path = self.charts_dir.join(name);
            std::fs::write(&path, png)?;
            text.push_str(&format!("\n  📈 {}", path.display()));
        }
        let mut w = self.out.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(w, "{text}")?;
        w.flush()?;
        Ok(())
    }
}

fn local(t: DateTime<Utc>, tz: chrono_tz::Tz, f: &str) -> String {
    t.with_timezone(&tz).format(f).to_string()
}

/// `1 h 25 min`, `40 min`.
fn duration(secs: i64) -> String {
    let m = (secs.max(0) + 30) / 60;
    if m >= 60 {
        format!("{} h {:02} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

fn percent(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

/// The event as a person reads it, French first, English for English users.
pub fn message(out: &Outgoing, tz: chrono_tz::Tz, lang: Lang) -> String {
    let e = &out.event;
    let span = format!(
        "{}–{}",
        local(e.window_start, tz, "%d/%m %H:%M"),
        local(e.window_end, tz, "%H:%M")
    );
    let minutes = duration((e.window_end - e.window_start).num_seconds());
    let mut s = match (e.event, lang) {
        (EventKind::Open | EventKind::Escalate | EventKind::Resume, Lang::Fr) => format!(
            "{} {} · {} — {} posts critiques en {} ({}), {}× la normale ({:.1} attendus) ; {} de critiques contre {} d'habitude ({} mentions).",
            if e.event == EventKind::Escalate { "🟠" } else { "🔴" },
            match e.event {
                EventKind::Escalate => "Le bad buzz s'amplifie",
                EventKind::Resume => "Reprise du bad buzz",
                _ => "Bad buzz",
            },
            e.entity, e.critical, minutes, span, fr_number(e.ratio), e.baseline_critical,
            percent(e.share), percent(e.baseline_share), e.mentions
        ),
        (EventKind::Open | EventKind::Escalate | EventKind::Resume, Lang::En) => format!(
            "{} {} · {} — {} critical posts in {} ({}), {}× the usual ({:.1} expected); {} critical against {} usually ({} mentions).",
            if e.event == EventKind::Escalate { "🟠" } else { "🔴" },
            match e.event {
                EventKind::Escalate => "The bad buzz is growing",
                EventKind::Resume => "The bad buzz is back",
                _ => "Bad buzz",
            },
            e.entity, e.critical, minutes, span, e.ratio, e.baseline_critical,
            percent(e.share), percent(e.baseline_share), e.mentions
        ),
        (EventKind::Close, Lang::Fr) => format!(
            "🟢 Retour au calme · {} — {} critiques en {} ({}), {:.1} attendus. Alerte ouverte le {}, durée {}.",
            e.entity, e.critical, minutes, span, e.baseline_critical,
            local(e.opened_at, tz, "%d/%m à %H:%M"),
            duration((e.at - e.opened_at).num_seconds())
        ),
        (EventKind::Close, Lang::En) => format!(
            "🟢 Back to calm · {} — {} critical in {} ({}), {:.1} expected. The alert opened on {}, lasted {}.",
            e.entity, e.critical, minutes, span, e.baseline_critical,
            local(e.opened_at, tz, "%d/%m at %H:%M"),
            duration((e.at - e.opened_at).num_seconds())
        ),
    };
    if !e.top_cues.is_empty() {
        s.push_str(match lang {
            Lang::Fr => "\n  Indices : ",
            Lang::En => "\n  Cues: ",
        });
        s.push_str(&e.top_cues.join(", "));
    }
    for p in &e.posts {
        let text: String = p.text.chars().take(140).collect();
        let ellipsis = if p.text.chars().count() > 140 {
            "…"
        } else {
            ""
        };
        s.push_str(&format!(
            "\n  • {}{} — {}{}",
            p.author
                .as_deref()
                .map(|a| format!("{a} : "))
                .unwrap_or_default(),
            text.replace('\n', " ") + ellipsis,
            p.engagement,
            p.url
                .as_deref()
                .map(|u| format!(" · {u}"))
                .unwrap_or_default()
        ));
    }
    s
}

fn fr_number(v: f64) -> String {
    format!("{v}").replace('.', ",")
}
