//! The classifier's vocabulary: word valences per language, phrases, and grammar words.
//!
//! Owns loading and merging: the bundled third-party lexicons (`config/lexicon/*.tsv`, see
//! `config/lexicon/LICENSES.md`), Veille's own cues (`cues.toml`), then a deployment's extra
//! cue files. Every term is folded as the text will be. No I/O beyond reading the files it is
//! handed; the bundled ones are compiled into the binary.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use anyhow::Context;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::fold::fold;

const EN_VADER: &str = include_str!("../../config/lexicon/en_vader.tsv");
const FR_VADER: &str = include_str!("../../config/lexicon/fr_vader.tsv");
const FR_PATTERN: &str = include_str!("../../config/lexicon/fr_pattern.tsv");
const CUES: &str = include_str!("../../config/lexicon/cues.toml");

/// Grammar flags a word can carry.
pub mod flag {
    /// Flips what follows (`pas`, `not`).
    pub const NEGATOR: u32 = 1;
    /// Flips what precedes (`j'aime pas`).
    pub const POST_NEGATOR: u32 = 1 << 1;
    /// Strengthens what follows (`très`, `so`).
    pub const INTENSIFIER: u32 = 1 << 2;
    /// The clause after it weighs more (`mais`, `but`).
    pub const CONTRAST: u32 = 1 << 3;
    /// An information question word (`comment`, `when`).
    pub const INFO_QUESTION: u32 = 1 << 4;
    /// `pourquoi`, `why`.
    pub const WHY: u32 = 1 << 5;
    /// `ma`, `my`.
    pub const POSSESSIVE: u32 = 1 << 6;
    /// A waiting word (`attente`, `still`).
    pub const WAIT: u32 = 1 << 7;
    /// A unit of time (`h`, `jours`, `weeks`).
    pub const DURATION: u32 = 1 << 8;
    /// A number written as a word (`trois`, `several`).
    pub const NUMBER: u32 = 1 << 9;
    /// A French function word.
    pub const STOP_FR: u32 = 1 << 10;
    /// An English function word.
    pub const STOP_EN: u32 = 1 << 11;
    /// Some phrase starts with this token.
    pub const PHRASE_START: u32 = 1 << 12;
    /// A complaint word that negation does not reverse (`no refund`).
    pub const UNFLIPPED: u32 = 1 << 13;
    /// Something that is supposed to work or come (`work`, `load`, `reply`, `reçu`): after
    /// a negator or a breaker it states a failure (`can't log in`, `no reply`).
    pub const FUNCTION: u32 = 1 << 14;
    /// Says that something failed (`unable`, `stopped`, `failed`), like a negator before a
    /// function word.
    pub const BREAKER: u32 = 1 << 15;
    /// Courtesy or easily ironic praise (`please`, `thanks`, `hi`, `great`): it weighs
    /// nothing against criticism.
    pub const COURTESY: u32 = 1 << 16;
    /// Its valence depends on the accents it was written with (`âpres` is not `après`).
    pub const ACCENTED: u32 = 1 << 17;
    /// Starts a joined hashtag that says what the rest is (`#badservice`, `#stoptafta`).
    pub const HASHTAG_HEAD: u32 = 1 << 18;
    /// Ends a joined hashtag that says what the rest is (`#epicfail`, `#ecotaxegate`).
    pub const HASHTAG_TAIL: u32 = 1 << 19;
    /// Says one cannot do something (`can't`, `cannot`, `unable`, `impossible`).
    pub const INCAPACITY: u32 = 1 << 20;
    /// After an incapacity, makes an idiom that is no complaint (`can't wait`, `can't
    /// thank you enough`, `couldn't be happier`).
    pub const IDIOM: u32 = 1 << 21;
}

/// What the lexicon knows of one folded word.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Word {
    /// Valence in English posts (0 when unknown).
    pub en: f32,
    /// Valence in French posts (0 when unknown).
    pub fr: f32,
    /// Grammar flags, see [`flag`].
    pub flags: u32,
    /// How much an intensifier adds.
    pub boost: f32,
}

/// A multi-word cue.
#[derive(Debug, Clone)]
pub struct Phrase {
    /// Its folded text, shown as the cue.
    pub text: String,
    /// Its valence.
    pub weight: f32,
    /// Whether its first and last characters are word characters (then boundaries apply).
    pub word_start: bool,
    /// See `word_start`.
    pub word_end: bool,
}

/// The whole vocabulary, ready for lookups.
#[derive(Debug, Clone)]
pub struct Lexicon {
    /// Keyed by [`word_key`], a 64-bit hash of the folded word: a lookup touches one table
    /// slot and never a separate key string (checked collision-free when built).
    words: HashMap<u64, Word, BuildHasherDefault<IdentityHasher>>,
    phrases: Vec<Phrase>,
    /// Phrase ids by the [`word_key`] of their first token, longest first.
    phrase_starts: HashMap<u64, Vec<u32>, BuildHasherDefault<IdentityHasher>>,
    /// Spellings whose valence differs from their folded form's (`âpres`), by [`word_key`] of
    /// the folded form: (the spelling in lower case, its valence in French).
    accented: FxHashMap<u64, Vec<(String, f32)>>,
}

/// The shape of a cue file (`cues.toml` and a deployment's extra files).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CueFile {
    #[serde(default)]
    words: FxHashMap<String, f32>,
    #[serde(default)]
    words_fr: FxHashMap<String, f32>,
    #[serde(default)]
    words_en: FxHashMap<String, f32>,
    #[serde(default)]
    phrases: FxHashMap<String, f32>,
    /// French words spelled exactly so (accents included) have this valence; spelled
    /// otherwise, the folded word's.
    #[serde(default)]
    accented: FxHashMap<String, f32>,
    #[serde(default)]
    grammar: Grammar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Grammar {
    #[serde(default)]
    negators: Vec<String>,
    #[serde(default)]
    post_negators: Vec<String>,
    #[serde(default)]
    intensifiers: FxHashMap<String, f32>,
    #[serde(default)]
    unflipped: Vec<String>,
    #[serde(default)]
    contrasts: Vec<String>,
    #[serde(default)]
    info_questions: Vec<String>,
    #[serde(default)]
    whys: Vec<String>,
    #[serde(default)]
    possessives: Vec<String>,
    #[serde(default)]
    waits: Vec<String>,
    #[serde(default)]
    functions: Vec<String>,
    #[serde(default)]
    breakers: Vec<String>,
    #[serde(default)]
    incapacities: Vec<String>,
    #[serde(default)]
    idioms: Vec<String>,
    #[serde(default)]
    courtesy: Vec<String>,
    #[serde(default)]
    hashtag_heads: Vec<String>,
    #[serde(default)]
    hashtag_tails: Vec<String>,
    #[serde(default)]
    durations: Vec<String>,
    #[serde(default)]
    numbers: Vec<String>,
    #[serde(default)]
    stopwords_fr: Vec<String>,
    #[serde(default)]
    stopwords_en: Vec<String>,
}

impl Lexicon {
    /// The bundled lexicons and cues, extended by `extra` cue files (later files win).
    pub fn load(extra: &[impl AsRef<Path>]) -> anyhow::Result<Lexicon> {
        let mut files =
            vec![toml::from_str::<CueFile>(CUES).context("parsing the bundled cues.toml")?];
        for path in extra {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading cue file {}", path.display()))?;
            files.push(
                toml::from_str(&text)
                    .with_context(|| format!("parsing cue file {}", path.display()))?,
            );
        }
        Lexicon::build(&files)
    }

    /// The bundled lexicons and cues alone.
    pub fn bundled() -> Lexicon {
        Lexicon::load(&[] as &[&Path]).expect("the bundled lexicons parse: a unit test checks it")
    }

    fn build(files: &[CueFile]) -> anyhow::Result<Lexicon> {
        let mut words: FxHashMap<Box<str>, Word> = FxHashMap::default();
        let mut phrases: FxHashMap<String, f32> = FxHashMap::default();
        let mut accented: FxHashMap<u64, Vec<(String, f32)>> = FxHashMap::default();
        let put = |words: &mut FxHashMap<Box<str>, Word>,
                   phrases: &mut FxHashMap<String, f32>,
                   term: &str,
                   en: Option<f32>,
                   fr: Option<f32>| {
            let term = fold(term.trim());
            if term.contains(' ') {
                // A multi-word lexicon entry (`en colère`) is a phrase.
                if let Some(v) = en.or(fr) {
                    phrases.insert(term, v);
                }
                return;
            }
            let w = words.entry(term.into_boxed_str()).or_default();
            if let Some(v) = en {
                w.en = v;
            }
            if let Some(v) = fr {
                w.fr = v;
            }
        };
        // Third-party lexicons first, so that Veille's own cues override them. Pattern's
        // adjectives come before the translated VADER lexicon, which is closer to tweets.
        for (text, lang) in [(FR_PATTERN, "fr"), (FR_VADER, "fr"), (EN_VADER, "en")] {
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let Some((term, value)) = line.split_once('\t') else {
                    continue;
                };
                let Ok(v) = value.trim().parse::<f32>() else {
                    continue;
                };
                if lang == "en" {
                    put(&mut words, &mut phrases, term, Some(v), None);
                } else {
                    put(&mut words, &mut phrases, term, None, Some(v));
                }
            }
        }
        for file in files {
            for (term, &v) in &file.words {
                put(&mut words, &mut phrases, term, Some(v), Some(v));
            }
            for (term, &v) in &file.words_fr {
                put(&mut words, &mut phrases, term, None, Some(v));
            }
            for (term, &v) in &file.words_en {
                put(&mut words, &mut phrases, term, Some(v), None);
            }
            for (term, &v) in &file.phrases {
                phrases.insert(fold(term.trim()), v);
            }
            for (term, &v) in &file.accented {
                let term = term.trim().to_lowercase();
                let folded = fold(&term);
                let spellings = accented.entry(word_key(&folded)).or_default();
                spellings.retain(|(s, _)| *s != term);
                spellings.push((term, v));
                words.entry(folded.into_boxed_str()).or_default().flags |= flag::ACCENTED;
            }
            let g = &file.grammar;
            let mut mark = |list: &[String], f: u32| {
                for term in list {
                    words
                        .entry(fold(term.trim()).into_boxed_str())
                        .or_default()
                        .flags |= f;
                }
            };
            mark(&g.negators, flag::NEGATOR);
            mark(&g.post_negators, flag::POST_NEGATOR);
            mark(&g.contrasts, flag::CONTRAST);
            mark(&g.unflipped, flag::UNFLIPPED);
            mark(&g.info_questions, flag::INFO_QUESTION);
            mark(&g.whys, flag::WHY);
            mark(&g.possessives, flag::POSSESSIVE);
            mark(&g.waits, flag::WAIT);
            mark(&g.functions, flag::FUNCTION);
            mark(&g.breakers, flag::BREAKER);
            mark(&g.incapacities, flag::INCAPACITY);
            mark(&g.idioms, flag::IDIOM);
            mark(&g.courtesy, flag::COURTESY);
            mark(&g.hashtag_heads, flag::HASHTAG_HEAD);
            mark(&g.hashtag_tails, flag::HASHTAG_TAIL);
            mark(&g.durations, flag::DURATION);
            mark(&g.numbers, flag::NUMBER);
            mark(&g.stopwords_fr, flag::STOP_FR);
            mark(&g.stopwords_en, flag::STOP_EN);
            for (term, &boost) in &g.intensifiers {
                let w = words.entry(fold(term.trim()).into_boxed_str()).or_default();
                w.flags |= flag::INTENSIFIER;
                w.boost = boost;
            }
        }
        // Grammar words carry no valence of their own: the translated lexicon gives
        // `vraiment` +1.9, VADER gives `no` -1.2, and the rules already use them.
        for w in words.values_mut() {
            if w.flags & (flag::INTENSIFIER | flag::NEGATOR | flag::POST_NEGATOR | flag::CONTRAST)
                != 0
            {
                w.en = 0.0;
                w.fr = 0.0;
            }
        }
        let mut phrases: Vec<Phrase> = phrases
            .into_iter()
            .filter(|(t, _)| !t.is_empty())
            .map(|(text, weight)| Phrase {
                word_start: text.starts_with(char::is_alphanumeric),
                word_end: text.ends_with(char::is_alphanumeric),
                text,
                weight,
            })
            .collect();
        phrases.sort_by(|a, b| a.text.cmp(&b.text));
        // Phrases are found from their first token, which the classifier looks up anyway.
        let mut phrase_starts: HashMap<u64, Vec<u32>, BuildHasherDefault<IdentityHasher>> =
            HashMap::default();
        for (id, p) in phrases.iter().enumerate() {
            let first = if p.word_start {
                &p.text[..super::classifier::word_end(&p.text, 0)]
            } else {
                // Emoticons are keyed by their first two characters.
                &p.text[..p.text.len().min(2)]
            };
            words.entry(first.into()).or_default().flags |= flag::PHRASE_START;
            phrase_starts
                .entry(word_key(first))
                .or_default()
                .push(id as u32);
        }
        let mut table: HashMap<u64, Word, BuildHasherDefault<IdentityHasher>> = HashMap::default();
        table.reserve(words.len());
        for (term, w) in words {
            anyhow::ensure!(
                table.insert(word_key(&term), w).is_none(),
                "two lexicon words share a hash; rename {term:?}"
            );
        }
        Ok(Lexicon {
            words: table,
            phrases,
            phrase_starts,
            accented,
        })
    }

    /// Looks up a folded word.
    #[inline]
    pub fn word(&self, folded: &str) -> Option<&Word> {
        self.words.get(&word_key(folded))
    }

    /// The French valence of `folded` as written in `original` when its accents change it
    /// (`âpres`), or `None` when that spelling has no valence of its own.
    pub fn accented(&self, folded: &str, original: &str) -> Option<f32> {
        let spellings = self.accented.get(&word_key(folded))?;
        spellings
            .iter()
            .find(|(s, _)| s.chars().eq(original.chars().flat_map(char::to_lowercase)))
            .map(|&(_, v)| v)
    }

    /// The phrases that start with the token `first`.
    pub fn phrases_from<'a>(&'a self, first: &str) -> impl Iterator<Item = &'a Phrase> + 'a {
        self.phrase_starts
            .get(&word_key(first))
            .into_iter()
            .flatten()
            .map(|&id| &self.phrases[id as usize])
    }

    /// How many single words and phrases are known.
    pub fn len(&self) -> (usize, usize) {
        (self.words.len(), self.phrases.len())
    }

    /// Whether the lexicon is empty (it never is once loaded).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// A 64-bit hash of a folded word, the key of its lexicon entry.
#[inline]
pub fn word_key(word: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    // Eight bytes a step (most words take one); each step's shift carries the high bits of
    // the product down, so that no later byte can cancel an earlier one.
    let step = |h: u64, x: u64| {
        let h = (h ^ x).wrapping_mul(K);
        h ^ (h >> 29)
    };
    let b = word.as_bytes();
    let n = b.len();
    let le64 = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"));
    let le32 = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("four")));
    let mut h = K;
    // The tail is read with whole loads that may overlap what came before (never a byte-wise
    // copy into a buffer, whose store the next load would wait for): with the length mixed
    // in at the end, the loads still tell every word apart.
    let tail = match n {
        0 => 0,
        1..=3 => u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
        4..=8 => le32(0) | le32(n - 4) << 32,
        _ => {
            let mut at = 0;
            while n - at > 8 {
                h = step(h, le64(at));
                at += 8;
            }
            le64(n - 8)
        }
    };
    h = step(h, tail);
    let h = (h ^ n as u64).wrapping_mul(K);
    h ^ (h >> 32)
}

/// A hasher for keys that are already hashes.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accented_spelling_keeps_its_own_valence() {
        let lex = Lexicon::bundled();
        assert_eq!(lex.accented("apres", "âpres"), Some(-0.6));
        assert_eq!(lex.accented("apres", "ÂPRES"), Some(-0.6));
        assert_eq!(lex.accented("apres", "après"), None);
        assert_eq!(lex.word("apres").map(|w| w.fr), Some(0.0));
        assert!(lex
            .word("apres")
            .is_some_and(|w| w.flags & flag::ACCENTED != 0));
        assert_eq!(lex.accented("tue", "tué"), Some(-3.5));
        assert_eq!(lex.accented("tue", "tue"), None);
    }

    #[test]
    fn bundled_lexicons_load_and_own_cues_win() {
        let lex = Lexicon::bundled();
        let (words, phrases) = lex.len();
        assert!(words > 15_000, "{words} words");
        assert!(phrases > 100, "{phrases} phrases");
        // Veille's own weight replaces the translated lexicon's -0.5.
        assert_eq!(lex.word("nul").map(|w| w.fr), Some(-2.5));
        // Folded at load: `génial` is found as `genial`.
        assert!(lex.word("genial").is_some_and(|w| w.fr > 0.0));
        assert!(lex
            .word("pas")
            .is_some_and(|w| w.flags & flag::NEGATOR != 0));
        // Language-specific: `sale` is dirty in French, a bargain in English.
        let sale = lex.word("sale").expect("sale is known");
        assert!(sale.fr < 0.0 && sale.en == 0.0);
    }

    #[test]
    fn extra_cue_files_extend_the_bundled_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "[words]\n\"bouchonné\" = -3.0\n[phrases]\n\"train fantôme\" = -2.0\n",
        )
        .expect("write cue file");
        let lex = Lexicon::load(&[&path]).expect("extra file loads");
        assert_eq!(lex.word("bouchonne").map(|w| w.fr), Some(-3.0));
        assert!(lex.phrases_from("train").any(|p| p.text == "train fantome"));
    }

    #[test]
    fn a_broken_cue_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[words]\nnul = \"very\"\n").expect("write cue file");
        let err = Lexicon::load(&[&path]).expect_err("bad file is refused");
        assert!(format!("{err:#}").contains("bad.toml"), "{err:#}");
    }
}
