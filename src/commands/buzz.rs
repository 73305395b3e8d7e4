//! `buzz`: a watched name's recent mentions and critical posts against its baseline, its
//! cues and most visible critical posts, and the chart (`veille buzz`, and `/buzz` as a
//! reply).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::reply::{Caller, Image, Reply, Tone};
use super::{CommandError, CommandResult, Context};
use crate::alerts::chart::{self, ChartSpec};
use crate::alerts::detector::OpenAlert;
use crate::alerts::{AlertPost, BucketPoint, Detector, Settings};
use crate::model::Lang;

/// The share of mentions that are critical in the field (seed 004: 1 in 3).
pub const FIELD_SHARE: f64 = 1.0 / 3.0;

/// What `buzz` is asked.
#[derive(Debug, Clone, Default)]
pub struct BuzzQuery {
    /// The watched name (case and accents do not matter).
    pub entity: String,
    /// From this time; the 48 hours before the last data by default.
    pub since: Option<DateTime<Utc>>,
}

/// What `buzz` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct BuzzReply {
    /// The name as watched.
    pub entity: String,
    /// The period.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// Buckets over the period against the baseline.
    pub series: Vec<BucketPoint>,
    /// Seconds per bucket.
    pub bucket_secs: i64,
    /// Mentions in the period.
    pub mentions: u64,
    /// Critical posts in the period.
    pub critical: u64,
    /// Critical posts the baseline expected.
    pub expected_critical: f64,
    /// The name's usual critical share.
    pub usual_share: f64,
    /// The cues most found in its critical posts.
    pub top_cues: Vec<String>,
    /// Its most visible critical posts.
    pub posts: Vec<AlertPost>,
    /// The alert open now, if any.
    pub open: Option<OpenAlert>,
}

impl BuzzReply {
    /// The critical share over the period.
    pub fn share(&self) -> f64 {
        if self.mentions == 0 {
            0.0
        } else {
            self.critical as f64 / self.mentions as f64
        }
    }
}

/// A time as the user wrote it: RFC 3339, or a day (its UTC midnight).
pub fn parse_time(input: &str, lang: Lang) -> CommandResult<DateTime<Utc>> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| {
            CommandError::user_in(
                lang,
                format!(
                    "{input:?} n'est pas une date : écrivez AAAA-MM-JJ ou 2024-05-01T10:00:00Z"
                ),
                format!("{input:?} is not a time: write YYYY-MM-DD or 2024-05-01T10:00:00Z"),
            )
        })
}

/// The name's series and figures. Reads the store (blocking).
pub fn buzz(ctx: &Context, q: &BuzzQuery, lang: Lang) -> CommandResult<BuzzReply> {
    buzz_among(ctx, q, lang, &ctx.entities)
}

/// [`buzz`] of a name among `names` only (a server's): any other is answered as a name
/// nobody watches.
pub fn buzz_among(
    ctx: &Context,
    q: &BuzzQuery,
    lang: Lang,
    names: &[crate::model::EntitySpec],
) -> CommandResult<BuzzReply> {
    let fold = crate::watch::fold::fold;
    let wanted = fold(q.entity.trim().trim_start_matches(['@', '#']));
    let Some(spec) = names.iter().find(|e| {
        fold(&e.name) == wanted
            || e.aliases
                .iter()
                .any(|a| fold(a.trim_start_matches(['@', '#'])) == wanted)
    }) else {
        // The closest names first, at most ten (a deployment may watch a thousand).
        let mut known: Vec<&str> = names.iter().map(|e| e.name.as_str()).collect();
        known.sort_by(|a, b| {
            strsim::jaro_winkler(&fold(b), &wanted)
                .total_cmp(&strsim::jaro_winkler(&fold(a), &wanted))
        });
        let more = known.len().saturating_sub(10);
        known.truncate(10);
        let known = if more > 0 {
            format!("{}, … (+{more})", known.join(", "))
        } else {
            known.join(", ")
        };
        return Err(CommandError::user_in(
            lang,
            format!(
                "{:?} n'est pas un nom surveillé ; noms surveillés : {}",
                q.entity, known
            ),
            format!(
                "{:?} is not a watched name; watched names: {}",
                q.entity, known
            ),
        ));
    };
    let entity = spec.name.clone();
    let now = Utc::now().timestamp();
    // The end: now, or the end of the last hour with data (a replayed past).
    let last = ctx
        .store
        .counts(&entity, i64::MIN / 8, now.div_euclid(3600) + 1)?
        .last()
        .map(|(h, _)| (h + 1) * 3600);
    let to = match (q.since, last) {
        (Some(since), _) => (since.timestamp() + 48 * 3600).min(now),
        (None, Some(l)) if now - l > 48 * 3600 => l,
        _ => now,
    };
    let from = q.since.map_or(to - 48 * 3600, |s| s.timestamp());
    if from >= to {
        return Err(CommandError::user_in(
            lang,
            "la période demandée est dans le futur",
            "the period asked for is in the future",
        ));
    }
    let settings = Settings::from_config(&ctx.config)?;
    let bucket_secs = settings.bucket_secs;
    let mut detector = Detector::new(settings, ctx.store.clone())?;
    detector.at(to)?;
    let series = detector.series(&entity, from, to);
    let base = detector.baseline(&entity);
    let (top_cues, posts) = detector.worst_posts(&entity, from, to)?;
    let time = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
    Ok(BuzzReply {
        mentions: series.iter().map(|p| p.mentions).sum(),
        critical: series.iter().map(|p| p.critical).sum(),
        expected_critical: series.iter().map(|p| p.expected_critical).sum(),
        usual_share: base.share,
        open: detector.state(&entity).and_then(|s| s.open.clone()),
        entity,
        from: time(from),
        to: time(to),
        series,
        bucket_secs,
        top_cues,
        posts,
    })
}

/// The reply as text.
pub fn text(r: &BuzzReply, lang: Lang) -> String {
    use std::fmt::Write;
    let tz = chrono_tz::Europe::Paris;
    let t = |d: DateTime<Utc>| d.with_timezone(&tz).format("%d/%m %H:%M").to_string();
    let pct = |v: f64| format!("{:.0} %", v * 100.0);
    let mut s = String::new();
    let ratio = r.critical as f64 / r.expected_critical.max(0.01);
    let _ = match lang {
        Lang::Fr => writeln!(
            s,
            "{} — du {} au {} : {} mentions, {} critiques ({}) ; normale {:.1} critiques, soit {:.1}× ; part critique habituelle {}, terrain 1 sur 3 ({}).",
            r.entity, t(r.from), t(r.to), r.mentions, r.critical, pct(r.share()),
            r.expected_critical, ratio, pct(r.usual_share), pct(FIELD_SHARE)
        ),
        Lang::En => writeln!(
            s,
            "{} — {} to {}: {} mentions, {} critical ({}); usual {:.1} critical, so {:.1}×; usual critical share {}, field figure 1 in 3 ({}).",
            r.entity, t(r.from), t(r.to), r.mentions, r.critical, pct(r.share()),
            r.expected_critical, ratio, pct(r.usual_share), pct(FIELD_SHARE)
        ),
    };
    if let Some(o) = &r.open {
        let opened = DateTime::from_timestamp(o.opened_at, 0).unwrap_or_default();
        let _ = match lang {
            Lang::Fr => writeln!(s, "🔴 Alerte ouverte depuis le {}.", t(opened)),
            Lang::En => writeln!(s, "🔴 Alert open since {}.", t(opened)),
        };
    }
    let _ = writeln!(
        s,
        "{:<12} {:>8} {:>8} {:>9} {:>9}",
        match lang {
            Lang::Fr => "tranche",
            Lang::En => "bucket",
        },
        "mentions",
        match lang {
            Lang::Fr => "critiq.",
            Lang::En => "critical",
        },
        match lang {
            Lang::Fr => "attendu",
            Lang::En => "expected",
        },
        match lang {
            Lang::Fr => "normale",
            Lang::En => "band",
        },
    );
    for p in r
        .series
        .iter()
        .filter(|p| p.mentions > 0 || p.critical > p.band.1)
    {
        let flag = if p.critical > p.band.1 { " ▲" } else { "" };
        let _ = writeln!(
            s,
            "{:<12} {:>8} {:>8} {:>9.1} {:>4}–{:<4}{flag}",
            t(DateTime::from_timestamp(p.start, 0).unwrap_or_default()),
            p.mentions,
            p.critical,
            p.expected_critical,
            p.band.0,
            p.band.1
        );
    }
    if !r.top_cues.is_empty() {
        let _ = writeln!(
            s,
            "{} {}",
            match lang {
                Lang::Fr => "Indices :",
                Lang::En => "Cues:",
            },
            r.top_cues.join(", ")
        );
    }
    for p in &r.posts {
        let text: String = p.text.chars().take(140).collect();
        let _ = writeln!(
            s,
            "• {} ({}){}",
            text.replace('\n', " "),
            p.engagement,
            p.url
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default()
        );
    }
    s
}

/// The reply's chart as PNG bytes.
pub fn chart(ctx: &Context, r: &BuzzReply, lang: Lang) -> CommandResult<Vec<u8>> {
    let tz = ctx
        .config
        .collect
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Paris);
    Ok(chart::png(&ChartSpec {
        title: &r.entity,
        series: &r.series,
        bucket_secs: r.bucket_secs,
        alert_window: r.open.as_ref().map(|o| (o.opened_at, r.to.timestamp())),
        tz,
        lang,
    })?)
}

/// `/buzz name [period]`: the text of [`buzz`] and its chart, among the names the server
/// reads; `period` is `24h`, `7j` or a date.
pub fn slash(
    process: &dyn super::Process,
    caller: &Caller,
    name: &str,
    period: Option<&str>,
) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let ctx = &*ctx;
    let visible = super::watch::visible(process, caller.guild)?;
    let lang = caller.lang;
    let since = match period.map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(match parse_period(p) {
            Some(d) => Utc::now() - d,
            None => parse_time(p, lang).map_err(|_| {
                CommandError::user_in(
                    lang,
                    format!("période inconnue : {p} (24h, 48h, 7j ou une date AAAA-MM-JJ)"),
                    format!("unknown period: {p} (24h, 48h, 7d or a date YYYY-MM-DD)"),
                )
            })?,
        }),
    };
    let r = buzz_among(
        ctx,
        &BuzzQuery {
            entity: name.to_string(),
            since,
        },
        lang,
        &visible,
    )?;
    let png = chart(ctx, &r, lang)?;
    let text = text(&r, lang);
    let mut lines = text.lines();
    let title = lines.next().unwrap_or_default().to_string();
    Ok(Reply {
        title,
        body: lines.collect::<Vec<_>>().join("\n"),
        image: Some(Image {
            name: "buzz.png".into(),
            png,
        }),
        tone: if r.open.is_some() {
            Tone::Bad
        } else {
            Tone::Info
        },
        ..Reply::default()
    })
}

/// `24h`, `48 h`, `7j`, `7d`, `2 jours`.
fn parse_period(p: &str) -> Option<Duration> {
    let p = p.to_lowercase().replace(' ', "");
    let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().ok()?;
    match &p[digits.len()..] {
        "h" | "heure" | "heures" | "hour" | "hours" => Some(Duration::hours(n)),
        "j" | "d" | "jour" | "jours" | "day" | "days" => Some(Duration::days(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_period("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_period("7 j"), Some(Duration::days(7)));
        assert_eq!(parse_period("7d"), Some(Duration::days(7)));
        assert_eq!(parse_period("soon"), None);
    }
}
