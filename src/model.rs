//! Plain data shared by every part of Veille: watched entities, posts, verdicts.
//!
//! No I/O and no behaviour beyond small conversions: the watcher, the sources and the store
//! all speak these types.

use serde::{Deserialize, Serialize};

/// What kind of thing a watched entity is.
///
/// Read forgivingly, as `rank` reads categories: case, accents and English are accepted
/// (`Commune`, `département`, `city`, `department`, `région`, `metropole`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
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

impl EntityKind {
    /// Every kind, in the order they are listed to users.
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Brand,
        EntityKind::Commune,
        EntityKind::Departement,
        EntityKind::Region,
        EntityKind::Intercommunalite,
        EntityKind::Person,
        EntityKind::Other,
    ];

    /// The identifier written in files.
    pub fn id(self) -> &'static str {
        match self {
            EntityKind::Brand => "brand",
            EntityKind::Commune => "commune",
            EntityKind::Departement => "departement",
            EntityKind::Region => "region",
            EntityKind::Intercommunalite => "intercommunalite",
            EntityKind::Person => "person",
            EntityKind::Other => "other",
        }
    }

    /// What a community manager calls it, in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (EntityKind::Brand, Lang::Fr) => "marque",
            (EntityKind::Commune, Lang::Fr) => "commune",
            (EntityKind::Departement, Lang::Fr) => "département",
            (EntityKind::Region, Lang::Fr) => "région",
            (EntityKind::Intercommunalite, Lang::Fr) => "intercommunalité",
            (EntityKind::Person, Lang::Fr) => "personne",
            (EntityKind::Other, Lang::Fr) => "autre",
            (EntityKind::Brand, Lang::En) => "brand",
            (EntityKind::Commune, Lang::En) => "town",
            (EntityKind::Departement, Lang::En) => "département",
            (EntityKind::Region, Lang::En) => "region",
            (EntityKind::Intercommunalite, Lang::En) => "group of towns",
            (EntityKind::Person, Lang::En) => "person",
            (EntityKind::Other, Lang::En) => "other",
        }
    }

    /// Reads a kind as users write it, in French or English, with or without accents.
    pub fn parse(input: &str) -> Option<EntityKind> {
        let folded = plain(input);
        let word = folded.trim_end_matches('s');
        Some(match word {
            "brand" | "marque" | "company" | "entreprise" | "product" | "produit" => {
                EntityKind::Brand
            }
            "commune" | "ville" | "city" | "town" | "village" | "municipality" => {
                EntityKind::Commune
            }
            "departement" | "department" | "dept" => EntityKind::Departement,
            "region" => EntityKind::Region,
            "intercommunalite"
            | "metropole"
            | "metropoli"
            | "metropolis"
            | "agglomeration"
            | "communaute de commune"
            | "communaute d'agglomeration"
            | "epci" => EntityKind::Intercommunalite,
            "person" | "personne" | "people" | "elu" | "personality" | "personnalite" => {
                EntityKind::Person
            }
            "other" | "autre" | "event" | "evenement" | "topic" | "sujet" => EntityKind::Other,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for EntityKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EntityKind, D::Error> {
        let s = String::deserialize(d)?;
        EntityKind::parse(&s).ok_or_else(|| {
            let valid: Vec<&str> = EntityKind::ALL.iter().map(|k| k.id()).collect();
            serde::de::Error::custom(format!(
                "unknown kind {s:?}; valid kinds: {} (French or English, e.g. city, department)",
                valid.join(", ")
            ))
        })
    }
}

/// One watched brand or territory, as written in config or in a `--watch` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Phrases that contain the name but are not about it (`Paris Saint-Germain` for
    /// Paris): a mention inside one does not count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
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

/// How readily an alert opens: the preset's p-value threshold and minimum ratio to the
/// baseline (see `src/alerts/detector.rs`).
///
/// As an option of `/alerts sensitivity`, its first alias is its French name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Only big spikes.
    #[value(alias = "faible", alias = "basse")]
    Low,
    /// The default.
    #[default]
    #[value(alias = "moyenne", alias = "normale")]
    Medium,
    /// Smaller spikes too, at the cost of more alerts.
    #[value(alias = "haute", alias = "forte")]
    High,
}

impl Sensitivity {
    /// `low`, `medium`, `high` (French `faible`, `moyenne`, `haute` accepted).
    pub fn parse(s: &str) -> Option<Sensitivity> {
        match plain(s).as_str() {
            "low" | "faible" | "basse" => Some(Sensitivity::Low),
            "medium" | "moyenne" | "normale" | "default" => Some(Sensitivity::Medium),
            "high" | "haute" | "forte" | "elevee" => Some(Sensitivity::High),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn id(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::Medium => "medium",
            Sensitivity::High => "high",
        }
    }
}

/// A word as users type it, compared plainly: trimmed, lower case, French accents off, `-`
/// and `_` as spaces.
fn plain(input: &str) -> String {
    input
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            '-' | '_' => ' ',
            c => c,
        })
        .collect()
}

/// A social network accounts are ranked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// X, formerly Twitter.
    Twitter,
    /// Instagram.
    Instagram,
    /// Bluesky.
    Bluesky,
    /// Facebook.
    Facebook,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 4] = [
        Platform::Twitter,
        Platform::Instagram,
        Platform::Bluesky,
        Platform::Facebook,
    ];

    /// The identifier used in keys, files and commands.
    pub fn id(self) -> &'static str {
        match self {
            Platform::Twitter => "twitter",
            Platform::Instagram => "instagram",
            Platform::Bluesky => "bluesky",
            Platform::Facebook => "facebook",
        }
    }

    /// The name shown to users.
    pub fn display(self) -> &'static str {
        match self {
            Platform::Twitter => "X (Twitter)",
            Platform::Instagram => "Instagram",
            Platform::Bluesky => "Bluesky",
            Platform::Facebook => "Facebook",
        }
    }

    /// Every name users give it (`x`, `tw`, `insta`…).
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Platform::Twitter => &["twitter", "x", "tw", "tweets"],
            Platform::Instagram => &["instagram", "insta", "ig"],
            Platform::Bluesky => &["bluesky", "bsky", "bluesky social"],
            Platform::Facebook => &["facebook", "fb", "meta"],
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
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
    /// Ranks published by someone else (the Observatoire), by the category id of the list
    /// each was published in: a 1st among the « grandes villes » is not a 1st among the
    /// « villes ».
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub published_ranks: std::collections::BTreeMap<String, u32>,
    /// Where the figures come from (`X API`, `eTerritoire, 2014`, `import FILE.csv`).
    pub source: String,
    /// When they were collected or imported.
    pub collected_at: chrono::DateTime<chrono::Utc>,
}

impl Snapshot {
    /// Takes in the figures `newer` carries, keeping those it does not: an import of some
    /// columns, or a collection, never wipes the month's other figures.
    pub fn merge(&mut self, newer: &Snapshot) {
        let fields = [
            (&mut self.followers, newer.followers),
            (&mut self.following, newer.following),
            (&mut self.posts_total, newer.posts_total),
            (&mut self.posts_month, newer.posts_month),
            (&mut self.interactions_month, newer.interactions_month),
        ];
        for (mine, theirs) in fields {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        self.published_ranks.extend(
            newer
                .published_ranks
                .iter()
                .map(|(category, rank)| (category.clone(), *rank)),
        );
        if !newer.source.is_empty() && !self.source.split("; ").any(|s| s == newer.source) {
            self.source = if self.source.is_empty() {
                newer.source.clone()
            } else {
                format!("{}; {}", self.source, newer.source)
            };
        }
        self.collected_at = self.collected_at.max(newer.collected_at);
    }
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
    /// The watched name it is about by where it was published (a comment under the team's
    /// own post), whether or not its text names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
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
