//! Who a post names: one Aho-Corasick pass over the folded text finds every watched name.
//!
//! Owns the rules that turn raw substring hits into mentions: word boundaries (`Angers` is not
//! in `dangers`), handles and hashtags (`@Toulouse`, `#Toulouse`, but not `#ToulouseFC`),
//! and the strong forms that ambiguous names (Nice, Tours, Orange) need. Pure: no I/O.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rustc_hash::FxHashMap;

use super::fold::{fold, is_word_char, Folded};
use super::lexicon::{word_key, IdentityHasher};
use crate::model::EntitySpec;

/// How a name was written in the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Plain words in the text.
    Name,
    /// After an `@`.
    Handle,
    /// After a `#`.
    Hashtag,
}

/// What a pattern may match as: a plain name also matches as handle or hashtag; an alias
/// written `@x` only as a handle, `#x` only as a hashtag; a multi-word name squeezed into one
/// word (`airfrance`) only after `@` or `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    Any,
    HandleOnly,
    HashtagOnly,
    SigilOnly,
}

/// One watched name found in a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the entity in [`Matcher::entities`].
    pub entity: u32,
    /// Byte range in the folded text (the sigil excluded).
    pub start: usize,
    /// End of the byte range in the folded text.
    pub end: usize,
    /// How the name was written.
    pub form: Form,
}

/// The compiled set of watched names.
#[derive(Debug, Clone)]
pub struct Matcher {
    entities: Vec<EntitySpec>,
    /// The patterns that are not one word (`air france`, `mairie_niort`); `None` when there
    /// are none.
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern, its index in `patterns`.
    automaton_ids: Vec<usize>,
    /// One-word patterns by the 64-bit hash of the word: one probe per word of a post, however
    /// many names are watched.
    words: HashMap<u64, Vec<usize>, BuildHasherDefault<IdentityHasher>>,
    /// Every folded pattern.
    patterns: Vec<String>,
    /// For each pattern, the entities it stands for and how it may match.
    targets: Vec<Vec<(u32, Accepts)>>,
    /// For each entity, its folded exclusions (`paris saint-germain` for Paris).
    excludes: Vec<Vec<String>>,
    /// Whether any entity has one (most deployments: none, and no pass for them).
    any_exclude: bool,
}

/// Up to this many patterns, the automaton is a DFA; above, a contiguous NFA.
const DFA_MAX_PATTERNS: usize = 4_000;

/// Words before an ambiguous name that make it a place (or a brand's shop): folded, ending
/// with the space or apostrophe that precedes the name.
const CONTEXTS: &[&str] = &[
    "ville de ",
    "ville d'",
    "mairie de ",
    "mairie d'",
    "maire de ",
    "maire d'",
    "habitants de ",
    "habitants d'",
    "gare de ",
    "gare d'",
    "aeroport de ",
    "aeroport d'",
    "agglo de ",
    "agglo d'",
    "metropole de ",
    "metropole d'",
    "commune de ",
    "commune d'",
    "office de tourisme de ",
    "office de tourisme d'",
    "universite de ",
    "universite d'",
    "pres de ",
    "pres d'",
    "region de ",
    "vers ",
    "depuis ",
    "chez ",
    "city of ",
];

impl Matcher {
    /// Compiles the watched names. Empty and duplicate aliases are ignored.
    pub fn new(specs: &[EntitySpec]) -> Matcher {
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        let mut patterns: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<(u32, Accepts)>> = Vec::new();
        let mut add = |pattern: String, entity: u32, accepts: Accepts| {
            if pattern.is_empty() {
                return;
            }
            let slot = *index.entry(pattern.clone()).or_insert_with(|| {
                patterns.push(pattern);
                targets.push(Vec::new());
                targets.len() - 1
            });
            if !targets[slot].contains(&(entity, accepts)) {
                targets[slot].push((entity, accepts));
            }
        };
        for (i, spec) in specs.iter().enumerate() {
            let e = i as u32;
            for alias in std::iter::once(&spec.name).chain(&spec.aliases) {
                let alias = alias.trim();
                if let Some(h) = alias.strip_prefix('@') {
                    add(fold(h), e, Accepts::HandleOnly);
                } else if let Some(h) = alias.strip_prefix('#') {
                    add(fold(h), e, Accepts::HashtagOnly);
                } else {
                    let folded = fold(alias);
                    // `Bourg-la-Reine` is also written `Bourg la Reine`, and `#BourgLaReine`.
                    let spaced = folded.replace('-', " ");
                    let compact: String = folded.chars().filter(|c| is_word_char(*c)).collect();
                    if compact != folded {
                        add(compact, e, Accepts::SigilOnly);
                    }
                    if spaced != folded {
                        add(spaced, e, Accepts::Any);
                    }
                    add(folded, e, Accepts::Any);
                }
            }
        }
        // One-word patterns go to the word index, the others to the automaton.
        let mut words: HashMap<u64, Vec<usize>, BuildHasherDefault<IdentityHasher>> =
            HashMap::default();
        let mut automaton_ids = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            if p.chars().all(is_word_char) {
                words.entry(word_key(p)).or_default().push(i);
            } else {
                automaton_ids.push(i);
            }
        }
        let automaton = (!automaton_ids.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                // A DFA scans fastest while it fits in cache; past a few thousand patterns the
                // compact NFA wins (measured with `cargo bench --bench watch`).
                .kind(Some(if automaton_ids.len() <= DFA_MAX_PATTERNS {
                    AhoCorasickKind::DFA
                } else {
                    AhoCorasickKind::ContiguousNFA
                }))
                .build(automaton_ids.iter().map(|&i| patterns[i].as_str()))
                .expect("watched names compile: patterns are plain strings under the size limit")
        });
        let excludes: Vec<Vec<String>> = specs
            .iter()
            .map(|e| {
                e.exclude
                    .iter()
                    .map(|x| fold(x.trim()))
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .collect();
        Matcher {
            entities: specs.to_vec(),
            automaton,
            automaton_ids,
            words,
            patterns,
            targets,
            any_exclude: excludes.iter().any(|e| !e.is_empty()),
            excludes,
        }
    }

    /// The watched entities, in the order given.
    pub fn entities(&self) -> &[EntitySpec] {
        &self.entities
    }

    /// Finds the watched names in a folded post. `original` is the text `folded` came from.
    /// Hits are appended to `out` in text order; overlapping hits keep the longest.
    pub fn find(&self, folded: &Folded, original: &str, out: &mut Vec<Hit>) {
        let text = folded.text.as_str();
        let first = out.len();
        if let Some(ac) = &self.automaton {
            for m in ac.find_overlapping_iter(text) {
                self.consider(
                    folded,
                    original,
                    m.start(),
                    m.end(),
                    self.automaton_ids[m.pattern().as_usize()],
                    out,
                );
            }
        }
        if !self.words.is_empty() {
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let c = b[i];
                if c < 0x80 && !c.is_ascii_alphanumeric() {
                    i += 1;
                    continue;
                }
                if c >= 0x80 && !word_at(text, i) {
                    i += text[i..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
                // A word: its end, then its hash.
                let start = i;
                while i < b.len() {
                    let c = b[i];
                    i += if c.is_ascii_alphanumeric() {
                        1
                    } else if c >= 0x80 && word_at(text, i) {
                        text[i..].chars().next().map_or(1, char::len_utf8)
                    } else {
                        break;
                    };
                }
                let h = word_key(&text[start..i]);
                if let Some(ids) = self.words.get(&h) {
                    let word = &text[start..i];
                    for &id in ids {
                        if self.patterns[id] == word {
                            self.consider(folded, original, start, i, id, out);
                        }
                    }
                }
            }
        }
        // Overlapping hits of different lengths: keep the longest, leftmost first.
        let hits = &mut out[first..];
        if hits.len() > 1 {
            hits.sort_by_key(|h| (h.start, usize::MAX - h.end));
            let mut kept = first;
            let mut last_end = 0;
            let mut last_start = usize::MAX;
            for i in first..out.len() {
                let h = out[i];
                let same_span = h.start == last_start && h.end == last_end;
                if h.start >= last_end || (same_span && kept > first) {
                    out[kept] = h;
                    kept += 1;
                    last_start = h.start;
                    last_end = h.end;
                }
            }
            out.truncate(kept);
        }
        // A mention inside one of its entity's exclusions is not about it.
        if self.any_exclude {
            let mut k = first;
            for i in first..out.len() {
                let h = out[i];
                let excluded = self.excludes[h.entity as usize].iter().any(|x| {
                    text.match_indices(x.as_str())
                        .any(|(at, m)| at <= h.start && h.end <= at + m.len())
                });
                if !excluded {
                    out[k] = h;
                    k += 1;
                }
            }
            out.truncate(k);
        }
    }

    /// Turns one raw hit of pattern `pattern` at `[start, end)` into mentions, if the rules
    /// allow it.
    fn consider(
        &self,
        folded: &Folded,
        original: &str,
        start: usize,
        end: usize,
        pattern: usize,
        out: &mut Vec<Hit>,
    ) {
        let text = folded.text.as_str();
        let sigil = text[..start].bytes().next_back();
        let before_sigil = |n: usize| text[..start - n].chars().next_back();
        let form = match sigil {
            Some(b'@') => Form::Handle,
            Some(b'#') => Form::Hashtag,
            _ => Form::Name,
        };
        // The character before the name (or its sigil) must not continue a word.
        let prev = match form {
            Form::Name => text[..start].chars().next_back(),
            _ => before_sigil(1),
        };
        if prev.is_some_and(|c| {
            is_word_char(c)
                || c == '_'
                || (form == Form::Name && c == '-' && joined_before(text, start))
        }) {
            return;
        }
        let next = text[end..].chars().next();
        let next_ok = match next {
            None => true,
            Some(c) if is_word_char(c) || c == '_' => false,
            // `Tours-sur-Marne` is another place than Tours; `Paris-Toulouse` and
            // `Air France-KLM` name them (X's own search finds them so).
            Some('-') => form != Form::Name || !linked_after(&text[end + 1..]),
            Some(_) => true,
        };
        if !next_ok {
            return;
        }
        for &(entity, accepts) in &self.targets[pattern] {
            let ok = match (accepts, form) {
                (Accepts::Any, Form::Name) => {
                    !self.entities[entity as usize].ambiguous
                        || strong_name(folded, original, start)
                }
                (Accepts::Any, _) | (Accepts::SigilOnly, Form::Handle | Form::Hashtag) => true,
                (Accepts::HandleOnly, Form::Handle) | (Accepts::HashtagOnly, Form::Hashtag) => true,
                _ => false,
            };
            if ok {
                out.push(Hit {
                    entity,
                    start,
                    end,
                    form,
                });
            }
        }
    }

    /// Display names of the entities in `hits`, once each, in order of first appearance.
    pub fn names(&self, hits: &[Hit]) -> Vec<String> {
        let mut seen: Vec<u32> = Vec::with_capacity(hits.len());
        for h in hits {
            if !seen.contains(&h.entity) {
                seen.push(h.entity);
            }
        }
        seen.iter()
            .map(|&e| self.entities[e as usize].name.clone())
            .collect()
    }
}

/// Whether the character at byte `i` (a char boundary) continues a word.
#[inline]
fn word_at(text: &str, i: usize) -> bool {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        b.is_ascii_alphanumeric()
    } else {
        text[i..].chars().next().is_some_and(is_word_char)
    }
}

/// Words that make a hyphenated compound another place when they follow the name
/// (`Tours-sur-Marne`, `Aix-en-Provence`, `Bourg-la-Reine`).
const LINKS_AFTER: &[&str] = &[
    "sur", "sous", "en", "les", "le", "la", "lez", "de", "du", "des", "aux", "d", "l", "et",
];

/// Words that make a hyphenated compound another place when they come before the name
/// (`Saint-Agen`, `Pont-Audemer`, `Villeneuve-Tolosane`).
const LINKS_BEFORE: &[&str] = &[
    "saint",
    "sainte",
    "st",
    "ste",
    "pont",
    "port",
    "mont",
    "villeneuve",
    "neuville",
    "bourg",
    "chateau",
    "val",
    "la",
    "le",
    "les",
    "sur",
    "sous",
    "en",
    "de",
    "du",
    "des",
    "aux",
    "lez",
];

/// The word that starts `text` (folded), up to the next non-word character.
fn first_word(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// True when the word after `-` makes the compound another place (`Tours-sur-Marne`).
fn linked_after(after: &str) -> bool {
    let w = first_word(after);
    !w.is_empty() && LINKS_AFTER.contains(&w)
}

/// True when the `-` just before `start` joins the name to a preceding word that makes the
/// compound another place (`Saint-Agen`); `Paris-Toulouse` names Toulouse.
fn joined_before(text: &str, start: usize) -> bool {
    let before = &text[..start - 1];
    let from = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let w = &before[from..];
    !w.is_empty() && LINKS_BEFORE.contains(&w)
}

/// An ambiguous plain name counts when it is capitalised mid-sentence or follows a place
/// context (`à Nice`, `ville de Tours`, `mairie d'Orange`).
fn strong_name(folded: &Folded, original: &str, start: usize) -> bool {
    let text = folded.text.as_str();
    let o = folded.origin[start] as usize;
    // Capitalised like a proper noun (`Nice`, not `NICE` nor `nice`), not first in a sentence.
    let mut chars = original[o..].chars();
    let title = chars.next().is_some_and(char::is_uppercase)
        && chars.next().is_some_and(|c| !c.is_uppercase());
    if title {
        let before = text[..start].trim_end_matches([' ', '"', '\'', '(', '\n', '\t']);
        let sentence_start = before.is_empty()
            || before.ends_with(['.', '!', '?', ':', '\n', '\u{2026}'])
            || before.ends_with(|c: char| {
                !c.is_alphanumeric() && !c.is_ascii_punctuation() && !c.is_whitespace()
            });
        if !sentence_start {
            return true;
        }
    }
    // `à` keeps its accent in the original: folded it would be the English article `a`.
    let orig_before = original[..o].trim_end_matches(' ');
    if orig_before.len() < o
        && (orig_before.ends_with(" à")
            || orig_before.ends_with(" À")
            || orig_before == "à"
            || orig_before == "À")
    {
        return true;
    }
    let before = &text[..start];
    CONTEXTS.iter().any(|ctx| {
        before.ends_with(ctx)
            && before[..before.len() - ctx.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !is_word_char(c))
    })
}

#[cfg(test)]
mod tests;
