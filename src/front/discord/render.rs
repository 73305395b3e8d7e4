//! Replies and owed messages as Discord shows them: embeds within Discord's limits, the
//! correction buttons, the alert's chart as an attachment. Pure: nothing here talks to
//! Discord.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateButton,
    CreateEmbed, CreateEmbedFooter, CreateMessage, Timestamp,
};

use crate::alerts::chart;
use crate::alerts::EventKind;
use crate::commands::outbox::{BotPost, PostBody};
use crate::commands::{Reply, Tone};
use crate::model::Lang;

// Discord's limits.
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FIELD_NAME_MAX: usize = 256;
pub const FIELD_VALUE_MAX: usize = 1024;
pub const FIELDS_MAX: usize = 25;
pub const FOOTER_MAX: usize = 2048;
pub const CONTENT_MAX: usize = 2000;
pub const EMBED_TOTAL_MAX: usize = 6000;

/// `s` cut to `max` characters, ending with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The embed colour of a tone.
pub fn color(t: Tone) -> u32 {
    match t {
        Tone::Info => 0x3b82f6,
        Tone::Good => 0x22c55e,
        Tone::Warn => 0xf59e0b,
        Tone::Bad => 0xdc2626,
    }
}

/// The embed of a reply showing page `page`, within Discord's limits.
pub fn embed(reply: &Reply, page: usize, lang: Lang) -> CreateEmbed {
    let mut budget = EMBED_TOTAL_MAX;
    let mut spend = |s: String| {
        let s = clip(&s, budget);
        budget -= s.chars().count();
        s
    };
    let title = spend(clip(&reply.title, TITLE_MAX));
    let mut desc = clip(&reply.body, DESCRIPTION_MAX - 200);
    if let Some(p) = reply.pages.get(page) {
        let room = DESCRIPTION_MAX.saturating_sub(desc.chars().count() + 10);
        desc = format!("{desc}\n```\n{}\n```", clip(p, room));
    }
    let mut footer = reply.footer.clone().unwrap_or_default();
    if reply.pages.len() > 1 {
        let p = match lang {
            Lang::Fr => format!("page {}/{}", page + 1, reply.pages.len()),
            Lang::En => format!("page {} of {}", page + 1, reply.pages.len()),
        };
        footer = if footer.is_empty() {
            p
        } else {
            format!("{footer} · {p}")
        };
    }
    let footer = spend(clip(&footer, FOOTER_MAX));
    let desc = spend(desc.trim().to_string());
    let mut e = CreateEmbed::new()
        .title(title)
        .description(desc)
        .color(color(reply.tone));
    for (k, v) in reply.fields.iter().take(FIELDS_MAX) {
        let k = spend(clip(k, FIELD_NAME_MAX));
        let v = spend(clip(v, FIELD_VALUE_MAX));
        if k.is_empty() || v.is_empty() {
            break;
        }
        e = e.field(k, v, false);
    }
    if !footer.is_empty() {
        e = e.footer(CreateEmbedFooter::new(footer));
    }
    if let Some(img) = &reply.image {
        e = e.image(format!("attachment://{}", img.name));
    }
    e
}

/// The « Critique » / « Pas critique » buttons of a verdict; `n` numbers them when a message
/// carries several.
pub fn verdict_row(id: &str, n: Option<usize>, lang: Lang) -> CreateActionRow {
    let (c, nc) = match lang {
        Lang::Fr => ("Critique", "Pas critique"),
        Lang::En => ("Critical", "Not critical"),
    };
    let label = |s: &str| n.map_or(s.to_string(), |n| format!("#{n} {s}"));
    CreateActionRow::Buttons(vec![
        CreateButton::new(format!("veille:v:c:{id}"))
            .label(label(c))
            .style(ButtonStyle::Danger),
        CreateButton::new(format!("veille:v:n:{id}"))
            .label(label(nc))
            .style(ButtonStyle::Secondary),
    ])
}

/// The message of an owed post.
pub fn message(p: &BotPost, tz: chrono_tz::Tz) -> anyhow::Result<CreateMessage> {
    let msg = CreateMessage::new().allowed_mentions(CreateAllowedMentions::new());
    Ok(match &p.body {
        PostBody::Position { title, text } => msg.embed(
            CreateEmbed::new()
                .title(clip(&format!("📅 {title}"), TITLE_MAX))
                .description(clip(text, DESCRIPTION_MAX))
                .color(color(Tone::Info)),
        ),
        PostBody::Alert { out, verdicts } => {
            let e = &out.event;
            let text = crate::alerts::notify::message(out, tz, p.lang);
            let mut lines = text.splitn(2, " — ");
            let title = lines.next().unwrap_or_default().to_string();
            let body = lines.next().unwrap_or_default().to_string();
            let tone = match e.event {
                EventKind::Open | EventKind::Resume => Tone::Bad,
                EventKind::Escalate => Tone::Warn,
                EventKind::Close => Tone::Good,
            };
            let mut embed = CreateEmbed::new()
                .title(clip(&title, TITLE_MAX))
                .description(clip(&body, DESCRIPTION_MAX))
                .color(color(tone))
                .timestamp(
                    Timestamp::from_unix_timestamp(e.at.timestamp())
                        .unwrap_or_else(|_| Timestamp::now()),
                );
            let mut msg = msg;
            if e.event != EventKind::Close {
                let png = chart::png(&chart::ChartSpec {
                    title: &e.entity,
                    series: &out.series,
                    bucket_secs: out.bucket_secs,
                    alert_window: Some(out.alert_window),
                    tz,
                    lang: p.lang,
                })?;
                embed = embed.image("attachment://chart.png");
                msg = msg.add_file(CreateAttachment::bytes(png, "chart.png"));
                let rows: Vec<CreateActionRow> = verdicts
                    .iter()
                    .take(5)
                    .enumerate()
                    .map(|(i, v)| verdict_row(v, Some(i + 1), p.lang))
                    .collect();
                msg = msg.components(rows);
            }
            msg.embed(embed)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).expect("a builder serialises")
    }

    #[test]
    fn an_embed_stays_within_discord_s_limits() {
        let reply = Reply {
            title: "t".repeat(300),
            body: "b".repeat(5000),
            pages: vec!["p".repeat(5000), "second".into()],
            fields: (0..30)
                .map(|i| (format!("k{i}"), "v".repeat(2000)))
                .collect(),
            footer: Some("source".into()),
            ..Reply::default()
        };
        let e = json(&embed(&reply, 0, Lang::Fr));
        let len = |v: &serde_json::Value| v.as_str().map_or(0, |s| s.chars().count());
        assert_eq!(len(&e["title"]), TITLE_MAX);
        assert!(len(&e["description"]) <= DESCRIPTION_MAX);
        let fields = e["fields"].as_array().expect("fields");
        assert!(fields.len() <= FIELDS_MAX);
        assert!(fields.iter().all(|f| len(&f["value"]) <= FIELD_VALUE_MAX));
        let total = len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + fields
                .iter()
                .map(|f| len(&f["name"]) + len(&f["value"]))
                .sum::<usize>();
        assert!(total <= EMBED_TOTAL_MAX, "{total}");
        assert!(
            e["footer"]["text"]
                .as_str()
                .expect("footer")
                .ends_with("page 1/2"),
            "{e}"
        );
    }

    #[test]
    fn clip_marks_what_it_cut() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("éééé", 2), "é…");
        assert_eq!(clip("abc", 0), "", "nothing left of the budget");
    }

    #[test]
    fn verdict_buttons_carry_the_verdict_and_its_number() {
        let row = json(&verdict_row("post:1", Some(2), Lang::Fr));
        let buttons = row["components"].as_array().expect("buttons");
        assert_eq!(buttons[0]["custom_id"], "veille:v:c:post:1");
        assert_eq!(buttons[0]["label"], "#2 Critique");
        assert_eq!(buttons[1]["custom_id"], "veille:v:n:post:1");
    }
}
