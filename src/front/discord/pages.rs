//! The replies sent with ◀ ▶ page buttons, kept so that a press turns their pages: one
//! registry for the bot, answered from the button handler. It holds at most [`MAX_KEPT`]
//! replies, each for [`PAGES_FOR`], without their chart's bytes: its memory stays bounded
//! however many commands a busy bot answers, where a waiting task and event collector a
//! reply grew with the rate of commands.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serenity::all::CreateEmbed;

use super::render::embed;
use crate::commands::Reply;
use crate::model::Lang;

/// How long a reply's page buttons answer.
pub const PAGES_FOR: Duration = Duration::from_secs(600);

/// Replies kept at once; past it, the oldest one's buttons stop answering.
pub const MAX_KEPT: usize = 500;

/// The id of the button that shows the previous (`next: false`) or next page of the reply
/// sent for interaction `id`.
pub fn button_id(id: u64, next: bool) -> String {
    format!("veille:p:{id}:{}", if next { "next" } else { "prev" })
}

/// What a button's id asks: the reply's interaction id and whether to go forward.
pub fn turn_of(custom_id: &str) -> Option<(u64, bool)> {
    let (id, way) = custom_id.strip_prefix("veille:p:")?.split_once(':')?;
    let next = match way {
        "next" => true,
        "prev" => false,
        _ => return None,
    };
    Some((id.parse().ok()?, next))
}

/// One kept reply.
struct Kept {
    reply: Reply,
    lang: Lang,
    page: usize,
    until: Instant,
}

/// The kept replies, by the id of the interaction they answered.
#[derive(Default)]
pub struct Pages {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<u64, Kept>,
    /// Ids in the order kept (each kept once).
    order: VecDeque<u64>,
}

impl Inner {
    /// Drops the oldest reply while its time is up or more than `keep_at_most` are kept
    /// (replies are kept in the order their time ends).
    fn expire(&mut self, now: Instant, keep_at_most: usize) {
        while let Some(&oldest) = self.order.front() {
            let gone = self
                .by_id
                .get(&oldest)
                .is_none_or(|k| k.until <= now || self.order.len() > keep_at_most);
            if !gone {
                break;
            }
            self.order.pop_front();
            self.by_id.remove(&oldest);
        }
    }
}

impl Pages {
    /// Keeps `reply` (sent for interaction `id`, showing its first page) so that its buttons
    /// turn its pages; a reply of one page is not kept.
    pub fn keep(&self, id: u64, reply: &Reply, lang: Lang) {
        self.keep_at(id, reply, lang, Instant::now());
    }

    fn keep_at(&self, id: u64, reply: &Reply, lang: Lang, now: Instant) {
        if reply.pages.len() < 2 {
            return;
        }
        let mut reply = reply.clone();
        // The message keeps its chart; a turned page only names it again.
        if let Some(img) = &mut reply.image {
            img.png = Vec::new();
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now, MAX_KEPT - 1);
        let kept = Kept {
            reply,
            lang,
            page: 0,
            until: now + PAGES_FOR,
        };
        if inner.by_id.insert(id, kept).is_none() {
            inner.order.push_back(id);
        }
    }

    /// Turns the pages of the reply sent for interaction `id`: the embed of its new page, or
    /// `None` when it is no longer kept (too old, or the bot restarted).
    pub fn turn(&self, id: u64, next: bool) -> Option<CreateEmbed> {
        self.turn_at(id, next, Instant::now())
    }

    fn turn_at(&self, id: u64, next: bool, now: Instant) -> Option<CreateEmbed> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now, MAX_KEPT);
        let kept = inner.by_id.get_mut(&id)?;
        let n = kept.reply.pages.len();
        kept.page = if next {
            (kept.page + 1) % n
        } else {
            (kept.page + n - 1) % n
        };
        Some(embed(&kept.reply, kept.page, kept.lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::reply::Image;

    fn paged(n: usize) -> Reply {
        Reply {
            title: "Classement".into(),
            pages: (1..=n).map(|i| format!("page {i}")).collect(),
            image: Some(Image {
                name: "chart.png".into(),
                png: vec![1; 10_000],
            }),
            ..Reply::default()
        }
    }

    fn kept(pages: &Pages) -> usize {
        pages.inner.lock().expect("lock").by_id.len()
    }

    fn footer(e: &CreateEmbed) -> String {
        let v = serde_json::to_value(e).expect("an embed serialises");
        v["footer"]["text"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn a_button_id_names_the_reply_and_the_way() {
        assert_eq!(turn_of(&button_id(3000, true)), Some((3000, true)));
        assert_eq!(turn_of(&button_id(3000, false)), Some((3000, false)));
        assert_eq!(turn_of("veille:p:3000:up"), None);
        assert_eq!(turn_of("veille:v:c:post:00ff"), None);
    }

    #[test]
    fn presses_turn_the_pages_both_ways_and_wrap() {
        let pages = Pages::default();
        pages.keep(7, &paged(3), Lang::Fr);
        let at = |e: Option<CreateEmbed>| footer(&e.expect("kept"));
        assert_eq!(at(pages.turn(7, true)), "page 2/3");
        assert_eq!(at(pages.turn(7, true)), "page 3/3");
        assert_eq!(at(pages.turn(7, true)), "page 1/3");
        assert_eq!(at(pages.turn(7, false)), "page 3/3");
        assert!(
            pages.turn(8, true).is_none(),
            "another reply was never kept"
        );
        pages.keep(9, &paged(1), Lang::Fr);
        assert_eq!(kept(&pages), 1, "a reply of one page has no buttons");
    }

    #[test]
    fn a_kept_reply_names_its_chart_without_holding_it() {
        let pages = Pages::default();
        pages.keep(7, &paged(2), Lang::En);
        let e = serde_json::to_value(pages.turn(7, true).expect("kept")).expect("json");
        assert_eq!(e["image"]["url"], "attachment://chart.png");
        let inner = pages.inner.lock().expect("lock");
        assert!(inner.by_id[&7]
            .reply
            .image
            .as_ref()
            .is_some_and(|i| i.png.is_empty()));
    }

    #[test]
    fn replies_are_kept_for_a_while_and_never_more_than_the_bound() {
        let pages = Pages::default();
        let t0 = Instant::now();
        pages.keep_at(1, &paged(2), Lang::Fr, t0);
        assert!(pages.turn_at(1, true, t0 + PAGES_FOR / 2).is_some());
        assert!(
            pages.turn_at(1, true, t0 + PAGES_FOR).is_none(),
            "time is up"
        );
        assert_eq!(kept(&pages), 0);

        for id in 0..(MAX_KEPT as u64 + 50) {
            pages.keep_at(id, &paged(2), Lang::Fr, t0);
        }
        assert_eq!(kept(&pages), MAX_KEPT);
        assert!(pages.turn_at(0, true, t0).is_none(), "the oldest made room");
        assert!(pages.turn_at(MAX_KEPT as u64 + 49, true, t0).is_some());
    }
}
