//! Neutral or critical: a lexicon-and-rules scorer over the folded text, with the cues that fired.
//!
//! One pass tokenises the folded text and looks every word up once; a second walks the tokens
//! with the rules: negation (`pas génial`, `not good`, `j'aime pas`), intensifiers (`très`,
//! `so`), elongation (`nuuuul`), contrast (`mais`, `but`), emoji and emoticons, multi-word
//! cues (`toujours pas`, `never again`), and complaint shapes that carry no negative word
//! (`pourquoi ma commande…`, `3h d'attente`). Plain requests for information weigh half.
//! Pure: no I/O; the caller owns the scratch buffers so that nothing allocates per post.

use super::fold::Folded;
use super::lexicon::{flag, Lexicon, Word};

/// The language a post is scored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// French.
    Fr,
    /// English.
    En,
    /// Not said and not guessed: both lexicons are consulted.
    Unknown,
}

impl Lang {
    /// Reads a language tag as posts carry it (`fr`, `fr-FR`, `en_GB`); other languages are
    /// `Unknown`.
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("fr") {
            Lang::Fr
        } else if primary.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Unknown
        }
    }
}

/// Tuning of the scorer; the defaults are what `veille eval` figures in BENCHMARKS.md used.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tuning {
    /// Raw score from which a post is critical.
    pub threshold: f32,
    /// How much praise weighs against criticism.
    pub praise_weight: f32,
    /// What a complaint shape (`pourquoi ma…`, `3h d'attente`) adds.
    pub complaint_weight: f32,
    /// Factor on a plain request for information.
    pub info_question_factor: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            threshold: 0.8,
            praise_weight: 0.3,
            complaint_weight: 1.5,
            info_question_factor: 0.5,
        }
    }
}

/// A cue that pushed the post towards critical: a byte range of the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cue {
    /// Start in the folded text.
    pub start: u32,
    /// End in the folded text.
    pub end: u32,
}

/// Reusable buffers for one thread's classifications.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    tokens: Vec<Tok>,
    phrases: Vec<(u32, u32, f32)>,
    /// The cues of the last classification, in text order.
    pub cues: Vec<Cue>,
    /// Byte ranges of the folded text naming a watched entity: their words say who the post
    /// is about, not what it says of them, so they are neither cues nor praise.
    pub targets: Vec<(u32, u32)>,
    elongation: String,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    start: u32,
    end: u32,
    word: Word,
    /// A letter repeated three times or more (`nuuuul`).
    elongated: bool,
    /// Starts with a digit (`3`, `3h`).
    number: bool,
    /// A clause break (`.`, `,`, `;`, `!`, `?`) comes right before it.
    clause_start: bool,
    /// Inside a matched phrase: its valence is the phrase's.
    in_phrase: bool,
    /// An `@handle`: names someone, carries no valence.
    handle: bool,
}

impl Tok {
    /// A token with no number, elongation, phrase or handle about it.
    fn plain(start: usize, end: usize, word: Word, clause_start: bool) -> Tok {
        Tok {
            start: start as u32,
            end: end as u32,
            word,
            elongated: false,
            number: false,
            clause_start,
            in_phrase: false,
            handle: false,
        }
    }
}

/// What the scorer concluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Critical or not.
    pub critical: bool,
    /// From 0 to 1, critical from 0.5.
    pub score: f32,
    /// The raw score before the logistic squashing.
    pub raw: f32,
}

/// The classifier: a lexicon and its tuning.
#[derive(Debug, Clone)]
pub struct Classifier {
    lexicon: Lexicon,
    tuning: Tuning,
}

const NEGATION_SCALAR: f32 = -0.74;
const ELONGATION_BOOST: f32 = 0.5;
/// The valence of a joined hashtag against its rest (`#stoptafta`, `#nonaunucleaire`).
const STANCE: f32 = -2.0;

impl Classifier {
    /// A classifier over `lexicon`.
    pub fn new(lexicon: Lexicon, tuning: Tuning) -> Classifier {
        Classifier { lexicon, tuning }
    }

    /// Its tuning.
    pub fn tuning(&self) -> Tuning {
        self.tuning
    }

    /// Scores a post, `folded` from `original`. Cues land in `scratch.cues`.
    pub fn classify(
        &self,
        original: &str,
        folded: &Folded,
        lang: Option<Lang>,
        scratch: &mut Scratch,
    ) -> Outcome {
        let text = folded.text.as_str();
        scratch.cues.clear();
        let (exclamations, questions) = self.tokenize(original, folded, scratch);
        neutralise_compounds(text, &mut scratch.tokens);
        if !scratch.targets.is_empty() {
            let targets = &scratch.targets;
            for t in scratch.tokens.iter_mut() {
                if targets.iter().any(|&(s, e)| t.start < e && s < t.end) {
                    t.word = Word::default();
                }
            }
        }
        self.match_phrases(text, scratch);

        let lang = lang.unwrap_or_else(|| guess(&scratch.tokens));
        let toks = &scratch.tokens;
        let contrast_at = toks.iter().position(|t| t.word.flags & flag::CONTRAST != 0);
        let weight_at = |pos: usize| match contrast_at {
            Some(c) if pos < c => 0.5,
            Some(c) if pos > c => 1.5,
            _ => 1.0,
        };

        let (mut neg, mut pos, mut courtesy) = (0.0f32, 0.0f32, 0.0f32);
        for (k, t) in toks.iter().enumerate() {
            if t.in_phrase || t.handle {
                continue;
            }
            let mut v = valence(&t.word, lang);
            if v == 0.0 {
                continue;
            }
            let mut cue_start = t.start;
            if t.elongated {
                v += v.signum() * ELONGATION_BOOST;
            }
            // Look back within the clause for intensifiers (two words) and negators (three).
            let mut negated = false;
            for (back, p) in clause_before(toks, k) {
                if back <= 2 && p.word.flags & flag::INTENSIFIER != 0 {
                    v *= 1.0 + p.word.boost;
                }
                // `couldn't be happier`, `can't recommend enough`: an idiom, not a negation.
                if p.word.flags & flag::NEGATOR != 0
                    && !negated
                    && !(p.word.flags & flag::INCAPACITY != 0 && idiom_within(toks, k - back, 1))
                {
                    negated = true;
                    cue_start = p.start;
                }
            }
            let mut cue_end = t.end;
            if !negated {
                if let Some(n) = toks.get(k + 1) {
                    if !n.clause_start && n.word.flags & flag::POST_NEGATOR != 0 {
                        negated = true;
                        cue_end = n.end;
                    }
                }
            }
            if negated && t.word.flags & flag::UNFLIPPED == 0 {
                v *= NEGATION_SCALAR;
            } else if negated {
                // `no refund`: the negation is part of the complaint.
                v = v.min(0.0) * 1.2;
            }
            v *= weight_at(k);
            if v > 0.0 && t.word.flags & flag::COURTESY != 0 {
                // Weighed at the end: nothing in a request or beside a stated failure.
                courtesy += v;
                continue;
            }
            if v < 0.0 {
                neg -= v;
                if v <= -0.5 {
                    scratch.cues.push(Cue {
                        start: cue_start,
                        end: cue_end,
                    });
                }
            } else {
                pos += v;
            }
        }
        for &(start, end, weight) in &scratch.phrases {
            let k = toks.partition_point(|t| t.start < start);
            let v = weight * weight_at(k);
            if v < 0.0 {
                neg -= v;
                scratch.cues.push(Cue { start, end });
            } else {
                pos += v;
            }
        }

        let mut complaint = 0.0f32;
        let mut why_complaint = false;
        let mut fault = false;
        let has_wait = toks.iter().any(|t| t.word.flags & flag::WAIT != 0);
        for (k, t) in toks.iter().enumerate() {
            // `pourquoi ma commande…`, `why can't I…`: a why about one's own thing or a failure.
            // Asked of a brand, any why is one (`why is the 38 going down Market?`); `why not`
            // is a phrase, a suggestion.
            if t.word.flags & flag::WHY != 0 && !why_complaint && !t.in_phrase {
                let next = toks.get(k + 1).filter(|n| !n.clause_start);
                if let Some(o) = toks[k + 1..]
                    .iter()
                    .take(4)
                    .take_while(|o| !o.clause_start)
                    .find(|o| o.word.flags & (flag::POSSESSIVE | flag::NEGATOR) != 0)
                    .or(next.filter(|_| questions > 0))
                {
                    why_complaint = true;
                    complaint += self.tuning.complaint_weight;
                    scratch.cues.push(Cue {
                        start: t.start,
                        end: o.end,
                    });
                }
            }
            // `can't log in`, `no reply`, `unable to access`, `marche pas`: a failure of
            // something meant to work, stated with no evaluative word (`can't get enough` is
            // an idiom).
            if t.word.flags & flag::FUNCTION != 0 && !t.in_phrase && !idiom_within(toks, k, 1) {
                if let Some(from) = failure_before(toks, k).or_else(|| {
                    toks.get(k + 1)
                        .filter(|n| !n.clause_start && n.word.flags & flag::POST_NEGATOR != 0)
                        .map(|_| k)
                }) {
                    fault = true;
                    complaint += self.tuning.complaint_weight;
                    scratch.cues.push(Cue {
                        start: toks[from].start,
                        end: if from == k { toks[k + 1].end } else { t.end },
                    });
                }
            }
            // `can't pick it up`, `unable to authorize`, `impossible de payer`: one cannot do
            // something (what is meant to work has its own rule above), unless an idiom
            // follows (`can't wait`, `can't thank you enough`).
            if t.word.flags & flag::INCAPACITY != 0 && !t.in_phrase {
                let verb = toks[k + 1..]
                    .iter()
                    .take(2)
                    .take_while(|o| !o.clause_start && !o.handle)
                    .find(|o| {
                        o.word.flags & (flag::STOP_EN | flag::STOP_FR) == 0
                            || o.word.flags & flag::IDIOM != 0
                    });
                if let Some(v) = verb {
                    let meant = v.word.flags & flag::FUNCTION != 0;
                    if !meant && !idiom_within(toks, k, 2) {
                        fault = true;
                        complaint += self.tuning.complaint_weight;
                        scratch.cues.push(Cue {
                            start: t.start,
                            end: v.end,
                        });
                    }
                }
            }
            // `3h d'attente`, `waiting for 2 weeks`: a duration with a waiting word.
            if has_wait && (t.number || t.word.flags & flag::NUMBER != 0) {
                let fused = t.number && t.word.flags & flag::DURATION != 0;
                let unit = toks
                    .get(k + 1)
                    .filter(|n| n.word.flags & flag::DURATION != 0);
                if fused || unit.is_some() {
                    complaint += self.tuning.complaint_weight;
                    scratch.cues.push(Cue {
                        start: t.start,
                        end: unit.map_or(t.end, |u| u.end),
                    });
                }
            }
        }
        complaint = complaint.min(2.0 * self.tuning.complaint_weight);
        // `please help`, `hi, my order never arrived, thanks`, `thanks for cancelling my order`:
        // in a question or beside a stated failure, courtesy is not praise.
        if questions == 0 && complaint == 0.0 {
            pos += courtesy;
        }

        if exclamations > 0 && neg > 0.0 {
            neg *= 1.0 + 0.1 * exclamations.min(3) as f32;
        }
        let mut raw = neg + complaint - self.tuning.praise_weight * pos;
        let info_question = questions > 0
            && !why_complaint
            && !fault
            && toks.iter().any(|t| t.word.flags & flag::INFO_QUESTION != 0);
        if info_question && raw > 0.0 {
            raw *= self.tuning.info_question_factor;
        }
        let critical = raw >= self.tuning.threshold;
        let score = 1.0 / (1.0 + (-(raw - self.tuning.threshold) * 1.5).exp());
        if !critical {
            scratch.cues.clear();
        } else {
            scratch.cues.sort_by_key(|c| c.start);
            scratch.cues.dedup();
        }
        Outcome {
            critical,
            score,
            raw,
        }
    }

    /// Splits the folded text into tokens and looks each up. Returns the counts of `!` and `?`.
    fn tokenize(&self, original: &str, folded: &Folded, scratch: &mut Scratch) -> (u32, u32) {
        let text = folded.text.as_str();
        let toks = &mut scratch.tokens;
        toks.clear();
        let b = text.as_bytes();
        let (mut excl, mut quest) = (0u32, 0u32);
        let mut clause_start = true;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if is_word_at(text, i) {
                let start = i;
                i = word_end(text, start);
                let elongated = has_elongation(&b[start..i]);
                let word = &text[start..i];
                let mut entry = self.lookup(word, elongated, &mut scratch.elongation);
                if let Some(w) = entry.as_mut().filter(|w| w.flags & flag::ACCENTED != 0) {
                    // `âpres` is not `après`: the spelling in the original decides.
                    let at = |k: usize| folded.origin.get(k).map(|&o| o as usize);
                    let written = at(start)
                        .zip(at(i))
                        .and_then(|(s, e)| original.get(s..e))
                        .unwrap_or("");
                    if let Some(v) = self.lexicon.accented(word, written) {
                        w.fr = v;
                    }
                }
                let number = b[start].is_ascii_digit();
                if number && entry.is_none() {
                    // `3h`, `45min`: a number fused with its unit.
                    let unit = word.trim_start_matches(|c: char| c.is_ascii_digit());
                    if !unit.is_empty() {
                        entry = self
                            .lexicon
                            .word(unit)
                            .copied()
                            .filter(|w| w.flags & flag::DURATION != 0);
                    }
                }
                toks.push(Tok {
                    elongated,
                    number,
                    ..Tok::plain(start, i, entry.unwrap_or_default(), clause_start)
                });
                clause_start = false;
                continue;
            }
            match c {
                b'@' | b'#' => {
                    let start = i;
                    i += 1;
                    while i < b.len() && (b[i] == b'_' || is_word_at(text, i)) {
                        i += text[i..].chars().next().map_or(1, char::len_utf8);
                    }
                    let body = &text[start + 1..i];
                    let word = if c == b'#' {
                        self.lexicon
                            .word(body)
                            .copied()
                            .filter(|w| w.en != 0.0 || w.fr != 0.0)
                            .or_else(|| self.split_hashtag(body))
                            .unwrap_or_default()
                    } else {
                        Word::default()
                    };
                    toks.push(Tok {
                        handle: c == b'@',
                        ..Tok::plain(start, i, word, clause_start)
                    });
                    clause_start = false;
                    continue;
                }
                b'!' => {
                    excl += 1;
                    clause_start = true;
                }
                b'?' => {
                    quest += 1;
                    clause_start = true;
                }
                b':' | b';' | b'>' | b'=' if i + 1 < b.len() && b[i + 1].is_ascii_punctuation() => {
                    // An emoticon (`:(`, `:-)`, `>:(`): the longest known prefix of the
                    // punctuation run, three characters or two; `https://` is none.
                    let end = b[i..]
                        .iter()
                        .position(|c| !c.is_ascii_punctuation())
                        .map_or(b.len(), |n| i + n);
                    let run = &text[i..end];
                    if !run.starts_with("://") {
                        for len in [3, 2] {
                            let Some(w) = run.get(..len).and_then(|e| self.lexicon.word(e)) else {
                                continue;
                            };
                            if w.en != 0.0 || w.fr != 0.0 || w.flags & flag::PHRASE_START != 0 {
                                toks.push(Tok::plain(i, i + len, *w, clause_start));
                                break;
                            }
                        }
                    }
                    clause_start = true;
                    i = end;
                    continue;
                }
                b'.' | b',' | b';' | b':' | b'\n' => clause_start = true,
                _ if c >= 0x80 => {
                    // A symbol or emoji: one token per character, modifiers skipped.
                    let ch = text[i..].chars().next().unwrap_or(' ');
                    let len = ch.len_utf8();
                    if !is_modifier(ch) && !ch.is_whitespace() {
                        if let Some(w) = self.lexicon.word(&text[i..i + len]) {
                            toks.push(Tok::plain(i, i + len, *w, clause_start));
                        }
                    }
                    i += len;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        (excl, quest)
    }

    /// The valence of a joined hashtag (`#badservice`, `#boycottsncf`, `#epicfail`): that of
    /// a known head or tail word (`bad`, `fail`); a head with no valence of its own (`stop`,
    /// `non`) states a stance against the rest.
    fn split_hashtag(&self, body: &str) -> Option<Word> {
        let part = |part: &str, f: u32| {
            self.lexicon
                .word(part)
                .filter(|w| w.flags & f != 0)
                .map(|w| {
                    let stance = if w.en == 0.0 && w.fr == 0.0 {
                        STANCE
                    } else {
                        0.0
                    };
                    Word {
                        en: w.en + stance,
                        fr: w.fr + stance,
                        ..Word::default()
                    }
                })
        };
        let cuts = || (2..body.len().saturating_sub(1)).filter(|&i| body.is_char_boundary(i));
        cuts()
            .find_map(|i| part(&body[..i], flag::HASHTAG_HEAD))
            .or_else(|| cuts().find_map(|i| part(&body[i..], flag::HASHTAG_TAIL)))
    }

    /// Looks a word up, trying the collapsed forms of an elongated word (`nuuuul`, `sooo`).
    fn lookup(&self, word: &str, elongated: bool, buf: &mut String) -> Option<Word> {
        if let Some(w) = self.lexicon.word(word) {
            return Some(*w);
        }
        if !elongated {
            return None;
        }
        for keep in [2, 1] {
            collapse(word, keep, buf);
            if let Some(w) = self.lexicon.word(buf) {
                return Some(*w);
            }
        }
        None
    }

    /// Finds the multi-word cues, leftmost-longest, starting at tokens that can start one,
    /// and marks the tokens they cover.
    fn match_phrases(&self, text: &str, scratch: &mut Scratch) {
        scratch.phrases.clear();
        let b = text.as_bytes();
        let mut covered_to = 0u32;
        for t in scratch.tokens.iter() {
            if t.word.flags & flag::PHRASE_START == 0 || t.start < covered_to {
                continue;
            }
            let rest = &text[t.start as usize..];
            let best = self
                .lexicon
                .phrases_from(if is_word_at(text, t.start as usize) {
                    &text[t.start as usize..t.end as usize]
                } else {
                    // Emoticon phrases are keyed by their first two characters.
                    rest.get(..2).unwrap_or(rest)
                })
                .filter(|p| {
                    rest.starts_with(p.text.as_str()) && {
                        let e = t.start as usize + p.text.len();
                        if p.word_end {
                            e >= b.len() || !is_word_at(text, e)
                        } else {
                            // An emoticon ends before a space or a letter, not inside a URL (`://`).
                            e >= b.len() || !(b[e] == b'/' || b[e].is_ascii_alphanumeric())
                        }
                    }
                })
                .max_by_key(|p| p.text.len());
            if let Some(p) = best {
                let end = t.start + p.text.len() as u32;
                scratch.phrases.push((t.start, end, p.weight));
                covered_to = end;
            }
        }
        if scratch.phrases.is_empty() {
            return;
        }
        let mut j = 0;
        for t in scratch.tokens.iter_mut() {
            while j < scratch.phrases.len() && scratch.phrases[j].1 <= t.start {
                j += 1;
            }
            if let Some(&(s, e, _)) = scratch.phrases.get(j) {
                t.in_phrase = t.start >= s && t.end <= e;
            }
        }
    }
}

/// The up to three tokens before the one at `k` within its clause, nearest first, with how
/// far back each is.
fn clause_before(toks: &[Tok], k: usize) -> impl Iterator<Item = (usize, &Tok)> {
    (1..=k.min(3))
        .take_while(move |&back| !toks[k - back + 1].clause_start)
        .map(move |back| (back, &toks[k - back]))
}

/// Whether one of the up to `n` tokens after the one at `k`, in its clause, makes an idiom
/// with it (`can't wait`, `couldn't be happier`, `can't get enough`).
fn idiom_within(toks: &[Tok], k: usize, n: usize) -> bool {
    toks[k + 1..]
        .iter()
        .take(n)
        .take_while(|o| !o.clause_start && !o.handle)
        .any(|o| o.word.flags & flag::IDIOM != 0)
}

/// Where a failure of the function word at `k` is stated before it: a negator or a breaker
/// up to three words back in the clause (`can't log in`, `not able to access`, `unable to
/// stream`), with nothing that carries its own meaning in between (`can't wait to get`).
fn failure_before(toks: &[Tok], k: usize) -> Option<usize> {
    for (back, p) in clause_before(toks, k) {
        if p.word.flags & (flag::NEGATOR | flag::BREAKER) != 0 && !p.in_phrase {
            return Some(k - back);
        }
        if p.word.en != 0.0 || p.word.fr != 0.0 || p.word.flags & (flag::WAIT | flag::FUNCTION) != 0
        {
            return None;
        }
    }
    None
}

/// First parts of a hyphenated compound that turn the bad thing after them into its cure
/// (`anti-pollution`, `zéro-déchet`, `sans-gluten`, `non-violence`).
const AGAINST_PREFIXES: &[&str] = &["anti", "zero", "sans", "non", "no"];
/// Last parts that do the same (`cruelty-free`, `waterproof`).
const AGAINST_SUFFIXES: &[&str] = &["free", "proof"];

/// A compound is scored as one: in `anti-pollution` or `cruelty-free` the bad word is what
/// the compound is against, not a criticism.
fn neutralise_compounds(text: &str, toks: &mut [Tok]) {
    for k in 1..toks.len() {
        let (a, b) = (toks[k - 1], toks[k]);
        if b.start != a.end + 1 || text.as_bytes()[a.end as usize] != b'-' {
            continue;
        }
        let first = &text[a.start as usize..a.end as usize];
        let last = &text[b.start as usize..b.end as usize];
        if AGAINST_PREFIXES.contains(&first) {
            toks[k].word = Word::default();
            toks[k - 1].word = Word::default();
        } else if AGAINST_SUFFIXES.contains(&last) {
            toks[k - 1].word = Word::default();
            toks[k].word = Word::default();
        }
    }
}

/// The end of the word token that starts at `start`: letters and digits, with `'` inside a
/// word (`don't`) but after an elided French article or pronoun (`d'`, `qu'`) a token of its
/// own. Shared with the lexicon, which keys phrases by their first token.
pub(crate) fn word_end(text: &str, start: usize) -> usize {
    let b = text.as_bytes();
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() {
            i += 1;
        } else if c == b'\'' && i + 1 < b.len() && is_word_at(text, i + 1) {
            i += 1;
            if is_elision(&text[start..i - 1]) {
                break;
            }
        } else if c >= 0x80 && is_word_at(text, i) {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        } else {
            break;
        }
    }
    i
}

/// A letter repeated three times or more in a row (`nuuuul`).
#[inline]
fn has_elongation(word: &[u8]) -> bool {
    word.windows(3)
        .any(|w| w[0] == w[1] && w[1] == w[2] && w[0].is_ascii_alphabetic())
}

/// A word's valence in a language; with none known, the mean of what both lexicons say.
#[inline]
fn valence(w: &Word, lang: Lang) -> f32 {
    match lang {
        Lang::Fr => w.fr,
        Lang::En => w.en,
        Lang::Unknown => match (w.fr != 0.0, w.en != 0.0) {
            (true, true) => (w.fr + w.en) / 2.0,
            (true, false) => w.fr,
            _ => w.en,
        },
    }
}

/// Guesses French or English from function words.
fn guess(toks: &[Tok]) -> Lang {
    let (mut fr, mut en) = (0, 0);
    for t in toks {
        fr += (t.word.flags & flag::STOP_FR != 0) as i32;
        en += (t.word.flags & flag::STOP_EN != 0) as i32;
    }
    match fr.cmp(&en) {
        std::cmp::Ordering::Greater => Lang::Fr,
        std::cmp::Ordering::Less => Lang::En,
        std::cmp::Ordering::Equal => Lang::Unknown,
    }
}

/// French elided articles and pronouns: `l'`, `d'`, `j'`, `n'`, `qu'`…
fn is_elision(prefix: &str) -> bool {
    matches!(
        prefix,
        "l" | "d"
            | "j"
            | "n"
            | "m"
            | "t"
            | "s"
            | "c"
            | "qu"
            | "jusqu"
            | "lorsqu"
            | "puisqu"
            | "quoiqu"
    )
}

/// Whether the character at byte `i` (on a char boundary) is a letter or digit.
#[inline]
fn is_word_at(text: &str, i: usize) -> bool {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        b.is_ascii_alphanumeric()
    } else {
        text[i..].chars().next().is_some_and(char::is_alphanumeric)
    }
}

/// Emoji modifiers that carry no meaning of their own.
fn is_modifier(c: char) -> bool {
    matches!(
        c,
        '\u{FE0F}' | '\u{FE0E}' | '\u{200D}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{2640}' | '\u{2642}'
    )
}

/// Writes `word` with every run of three or more equal letters cut to `keep`.
fn collapse(word: &str, keep: usize, out: &mut String) {
    out.clear();
    let mut prev = None;
    let mut run = 0;
    let chars: Vec<char> = word.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if Some(c) == prev {
            run += 1;
        } else {
            prev = Some(c);
            run = 1;
        }
        // Is this character part of a run of three or more?
        let mut total = run;
        let mut j = i + 1;
        while j < chars.len() && chars[j] == c {
            total += 1;
            j += 1;
        }
        if total >= 3 && run > keep {
            continue;
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests;
