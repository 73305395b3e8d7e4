//! Plain data shared by every part of Veille: watched entities, posts, verdicts.
//!
//! No I/O and no behaviour beyond small conversions: the watcher, the sources and the store
//! all speak these types.

use serde::{Deserialize, Serialize};

/// What kind of thing a watched entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A company or product brand.
    #[default]
    Brand,
    /// A commune (city, town or village).
    Commune,
    /// A French département.
    Departement,
    /// A French région.
    Region,
    /// An intercommunalité: métropole, communauté urbaine, d'agglomération or de communes.
    Intercommunalite,
    /// A person (an elected official, a spokesperson).
    Person,
    /// Anything else worth watching (an event, a topic).
    Other,
}

/// One watched brand or territory, as written in config or in a `--watch` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySpec {
    /// The display name; it is also matched as a plain name.
    pub name: String,
    /// What the entity is.
    #[serde(default)]
    pub kind: EntityKind,
    /// Other ways posts name it: plain names, `@handles`, `#hashtags`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The name is also a common word (Nice, Tours, Orange): plain-name matches count only in
    /// a strong form (handle, hashtag, capitalised mid-sentence, place context).
    #[serde(default)]
    pub ambiguous: bool,
}

/// The two labels the classifier gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// A plain mention: information, praise, a question.
    Neutral,
    /// A criticism, a complaint, an insult.
    Critical,
}

impl Label {
    /// The label as written in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Neutral => "neutral",
            Label::Critical => "critical",
        }
    }
}

/// What the watcher says of one post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Neutral or critical.
    pub label: Label,
    /// How critical, from 0 to 1; critical from 0.5 up.
    pub score: f32,
    /// The cues that pushed the post towards critical, in text order.
    pub cues: Vec<String>,
    /// Display names of the watched entities the post names, in order of first appearance.
    pub mentions: Vec<String>,
}

/// A calendar month (`2021-06`), the period of rankings and snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Month {
    /// A month; `None` unless `month` is 1 to 12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// The month before.
    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its number of days.
    pub fn days(self) -> u32 {
        let first = chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1);
        let next = self.next();
        let next_first = chrono::NaiveDate::from_ymd_opt(next.year, next.month, 1);
        match (first, next_first) {
            (Some(a), Some(b)) => (b - a).num_days() as u32,
            _ => 30,
        }
    }

    /// The month a date falls in.
    pub fn of(date: chrono::NaiveDate) -> Month {
        use chrono::Datelike;
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// `juin 2021` or `June 2021`.
    pub fn name(self, lang: Lang) -> String {
        let i = self.month as usize - 1;
        match lang {
            Lang::Fr => format!("{} {}", MONTHS_FR[i], self.year),
            Lang::En => format!("{} {}", MONTHS_EN[i], self.year),
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Month, String> {
        let bad = || format!("{s:?} is not a month: write YYYY-MM, e.g. 2021-06");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if y.len() != 4 {
            return Err(bad());
        }
        Month::new(year, month).ok_or_else(bad)
    }
}

impl TryFrom<String> for Month {
    type Error = String;
    fn try_from(s: String) -> Result<Month, String> {
        s.parse()
    }
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

/// The language of what users read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// French, the default.
    #[default]
    Fr,
    /// English, for users whose locale is English.
    En,
}

impl Lang {
    /// From a locale (`fr`, `en-US`, `en-GB`); French unless English.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Fr
        }
    }
}

/// What was measured of one account on one platform for one month, or published about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// Followers at the end of the month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
    /// Accounts it follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<u64>,
    /// Posts since the account opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posts_total: Option<u64>,
    /// Posts during the month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posts_month: Option<u64>,
    /// Likes + comments/replies + shares on the month's posts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactions_month: Option<u64>,
    /// A rank published by someone else (the Observatoire), when only ranks are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_rank: Option<u32>,
    /// Where the figures come from (`X API`, `eTerritoire, 2014`, `import FILE.csv`).
    pub source: String,
    /// When they were collected or imported.
    pub collected_at: chrono::DateTime<chrono::Utc>,
}

/// A post from any source, as the watcher reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Where it comes from: `x`, `bluesky`, or `file` for posts of unknown origin.
    pub platform: String,
    /// Its id on that platform.
    pub id: String,
    /// For a repost, the id of the original: the same post is counted once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// Its text.
    pub text: String,
    /// When it was posted.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Its author's handle or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Its language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Likes, replies, reposts and quotes, when the source gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<PostMetrics>,
}

impl Post {
    /// The key the same post has whichever source brought it: platform and id (the original's
    /// for a repost).
    pub fn dedup_key(&self) -> String {
        format!(
            "{}:{}",
            self.platform,
            self.original_id.as_deref().unwrap_or(&self.id)
        )
    }
}

/// Public counts on a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PostMetrics {
    /// Likes.
    #[serde(default, alias = "like_count")]
    pub likes: u64,
    /// Replies.
    #[serde(default, alias = "reply_count")]
    pub replies: u64,
    /// Reposts (retweets).
    #[serde(default, alias = "retweet_count")]
    pub reposts: u64,
    /// Quotes.
    #[serde(default, alias = "quote_count")]
    pub quotes: u64,
}
