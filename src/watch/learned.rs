//! What the team's corrections teach: a logistic regression over the lexicon's own logit
//! and hashed word and character n-grams of the folded text, fitted in Rust.
//!
//! The model starts as the lexicon (the logit's weight 1, every other weight 0), so with few
//! corrections it barely moves, and with none it is not used at all: the classifier is then
//! exactly the lexicon's. Each correction pulls the n-grams of its text towards its label;
//! L2 keeps the weights small.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Hashed feature slots: `1 << BITS`.
const BITS: u32 = 18;
const DIM: usize = 1 << BITS;
/// Passes over the corrections.
const EPOCHS: usize = 12;
/// The learning rate at the first pass (it decays as 1/√pass).
const RATE: f32 = 0.3;
/// L2 penalty per step.
const L2: f32 = 1e-5;

/// One hashed feature and, for word n-grams, where it is in the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// The slot.
    pub slot: u32,
    /// Byte span in the folded text (word n-grams only; `None` for character n-grams).
    pub span: Option<(u32, u32)>,
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;
/// Kinds of feature, so that a word, a pair and a 4-gram with equal bits differ.
const WORD: u64 = 0x5157_4f52_4400_0001;
const PAIR: u64 = 0x5041_4952_0000_0002;
const GRAM: u64 = 0x4752_414d_0000_0003;

/// A slot from a 64-bit value (a mixing step, then the top bits of a multiplication).
#[inline]
fn slot(x: u64) -> u32 {
    let x = (x ^ (x >> 31)).wrapping_mul(K);
    ((x ^ (x >> 29)).wrapping_mul(K) >> (64 - BITS)) as u32
}

/// The features of a folded text, in one pass over it: each word, each pair of neighbouring
/// words, and each 4-gram of characters of ` word ` (so that `annule`, `annulation` and
/// `#annule` share some). A feature found twice counts twice. Allocates nothing once `out`
/// has grown (it runs on every post when a model is in use).
pub fn features(folded: &str, out: &mut Vec<Feature>) {
    out.clear();
    let b = folded.as_bytes();
    // The previous word's hash and start.
    let mut prev: Option<(u64, u32)> = None;
    // The word being read: its start, hash, last four characters (16 bits each, the
    // padding space first) and length in characters.
    let mut word: Option<(u32, u64, u64, u32)> = None;
    let mut i = 0;
    while i <= b.len() {
        let (c, len) = match b.get(i) {
            None => (0, 1),
            Some(&x) if x < 0x80 => (u32::from(x) * u32::from(x.is_ascii_alphanumeric()), 1),
            Some(_) => {
                let ch = folded[i..].chars().next().unwrap_or(' ');
                (
                    u32::from(ch) * u32::from(ch.is_alphanumeric()),
                    ch.len_utf8(),
                )
            }
        };
        if c != 0 {
            let (_, h, window, n) = word.get_or_insert((i as u32, 0, 0x20, 0));
            *h = (h.rotate_left(5) ^ u64::from(c)).wrapping_mul(K);
            *window = (*window << 16) | u64::from((c & 0xffff) ^ (c >> 16));
            *n += 1;
            if *n >= 3 {
                out.push(Feature {
                    slot: slot(*window ^ GRAM),
                    span: None,
                });
            }
        } else if let Some((start, h, window, n)) = word.take() {
            let span = Some((start, i as u32));
            out.push(Feature {
                slot: slot(h ^ WORD),
                span,
            });
            if let Some((ph, ps)) = prev {
                out.push(Feature {
                    slot: slot(ph.rotate_left(29) ^ h ^ PAIR),
                    span: Some((ps, i as u32)),
                });
            }
            if n >= 2 {
                out.push(Feature {
                    slot: slot(((window << 16) | 0x20) ^ GRAM),
                    span: None,
                });
            }
            prev = Some((h, start));
        }
        i += len;
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Model {
    weights: Vec<f32>,
    /// The weight of the lexicon's logit.
    lexicon: f32,
    bias: f32,
    /// Corrections it was fitted on.
    pub examples: usize,
}

/// One correction, ready to fit: its features, the lexicon's logit, and whether critical.
#[derive(Debug, Clone)]
pub struct Example {
    /// Hashed features.
    pub features: Vec<Feature>,
    /// The lexicon's logit for the text.
    pub logit: f32,
    /// The label the team chose.
    pub critical: bool,
}

/// Each feature's value: the features of a text form a vector of length 1, so that a long
/// post does not weigh more than a short one.
fn norm(features: &[Feature]) -> f32 {
    1.0 / (features.len().max(1) as f32).sqrt()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Model {
    /// Fits on `examples` (seeded: the same corrections give the same model).
    pub fn fit(examples: &[Example]) -> Model {
        let mut m = Model {
            weights: vec![0.0; DIM],
            lexicon: 1.0,
            bias: 0.0,
            examples: examples.len(),
        };
        // Critical posts are often the fewer (6% of the SXSW brand tweets): each then weighs
        // as many neutral ones, so that the model does not learn to say neutral (by 5-fold
        // cross-validation on tuning halves: SXSW 0.14 -> 0.38, DEFT 0.74 -> 0.77; the
        // complaints set, where they are the more, is unchanged).
        let critical = examples.iter().filter(|e| e.critical).count();
        let critical_weight =
            ((examples.len() - critical) as f32 / critical.max(1) as f32).max(1.0);
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for pass in 0..EPOCHS {
            order.shuffle(&mut rng);
            let rate = RATE / ((pass + 1) as f32).sqrt();
            for &i in &order {
                let e = &examples[i];
                let p = m.probability(&e.features, e.logit);
                let g = if e.critical {
                    (p - 1.0) * critical_weight
                } else {
                    p
                };
                let scale = norm(&e.features);
                for f in &e.features {
                    let w = &mut m.weights[f.slot as usize];
                    *w -= rate * (g * scale + L2 * *w);
                }
                m.lexicon -= rate * 0.1 * g * e.logit.clamp(-8.0, 8.0);
                m.bias -= rate * 0.1 * g;
            }
        }
        m
    }

    /// The probability that a text is critical.
    pub fn probability(&self, features: &[Feature], logit: f32) -> f32 {
        let z: f32 = features
            .iter()
            .map(|f| self.weights[f.slot as usize])
            .sum::<f32>()
            * norm(features)
            + self.lexicon * logit.clamp(-8.0, 8.0)
            + self.bias;
        sigmoid(z)
    }

    /// The word n-grams of a text that pushed it most towards critical (spans in the folded
    /// text), at most `n`.
    pub fn top_spans(&self, features: &[Feature], n: usize) -> Vec<(u32, u32)> {
        let mut pushed: Vec<(f32, (u32, u32))> = features
            .iter()
            .filter_map(|f| f.span.map(|s| (self.weights[f.slot as usize], s)))
            .filter(|(w, _)| *w > 0.05)
            .collect();
        pushed.sort_by(|a, b| b.0.total_cmp(&a.0));
        pushed.into_iter().take(n).map(|(_, s)| s).collect()
    }
}

/// The critical class's F1 of `predict` over `examples` by `folds`-fold cross-validation:
/// `None` fits nothing and asks the lexicon; `Some` fits on the other folds.
pub fn cross_validated_f1(examples: &[Example], folds: usize, learn: bool) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
    for k in 0..folds.max(1) {
        let train: Vec<Example> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, e)| e.clone())
            .collect();
        let model = learn.then(|| Model::fit(&train));
        for (_, e) in examples.iter().enumerate().filter(|(i, _)| i % folds == k) {
            let predicted = match &model {
                Some(m) => m.probability(&e.features, e.logit) >= 0.5,
                None => e.logit >= 0.0,
            };
            match (predicted, e.critical) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
    }
    let (tp, fp, fn_) = (f64::from(tp), f64::from(fp), f64::from(fn_));
    if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fn_)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, logit: f32, critical: bool) -> Example {
        let mut f = Vec::new();
        features(text, &mut f);
        Example {
            features: f,
            logit,
            critical,
        }
    }

    /// `critical` corrections of parcels never received and `neutral` ones of parcels
    /// `received` (all numbered, so each text differs), the lexicon's logit `logit` for all.
    fn parcels(critical: usize, neutral: usize, received: &str, logit: f32) -> Vec<Example> {
        (0..critical)
            .map(|i| ex(&format!("colis {i} jamais recu"), logit, true))
            .chain((0..neutral).map(|i| ex(&format!("colis {i} {received}"), logit, false)))
            .collect()
    }

    #[test]
    fn an_unfitted_model_is_the_lexicon_and_corrections_move_it() {
        let m = Model::fit(&[]);
        let e = ex("colis jamais recu", -1.0, true);
        assert!(
            m.probability(&e.features, e.logit) < 0.5,
            "the lexicon said neutral"
        );
        // The team says: parcels never received are complaints.
        let m = Model::fit(&parcels(20, 20, "bien recu merci", -1.0));
        let e = ex("mon colis jamais recu", -1.0, true);
        assert!(m.probability(&e.features, e.logit) > 0.5);
        let n = ex("colis bien recu", -1.0, false);
        assert!(m.probability(&n.features, n.logit) < 0.5);
        let spans = m.top_spans(&e.features, 2);
        let text = "mon colis jamais recu";
        let words: Vec<&str> = spans
            .iter()
            .map(|&(s, e)| &text[s as usize..e as usize])
            .collect();
        assert!(words.iter().any(|w| w.contains("jamais")), "{words:?}");
    }

    #[test]
    fn a_rare_critical_kind_is_still_learned() {
        // One critical correction for every nineteen neutral ones, as on brand feeds.
        let m = Model::fit(&parcels(5, 95, "bien recu", -2.0));
        let e = ex("mon colis jamais recu", -2.0, true);
        assert!(m.probability(&e.features, e.logit) > 0.5);
        let n = ex("mon colis bien recu", -2.0, false);
        assert!(m.probability(&n.features, n.logit) < 0.5);
    }

    #[test]
    fn features_are_words_pairs_and_grams_located() {
        let mut f = Vec::new();
        features("vol annule, vol", &mut f);
        // vol: 2 grams (` vol`, `vol `) and the word; annule: 5 grams, the word, the pair;
        // vol again: the same 2 grams and word, and the pair `annule vol`.
        assert_eq!(f.len(), 3 + 7 + 4);
        let at = |span| f.iter().filter(|x| x.span == Some(span)).count();
        assert_eq!(at((0, 3)), 1);
        assert_eq!(at((4, 10)), 1);
        assert_eq!(at((0, 10)), 1, "the pair vol annule");
        assert_eq!(at((4, 15)), 1, "the pair annule vol");
        let slot = |span| f.iter().find(|x| x.span == Some(span)).unwrap().slot;
        assert_eq!(slot((0, 3)), slot((12, 15)), "one word, one slot");
        // Short words: one 4-gram for two letters, none for one.
        features("a", &mut f);
        assert_eq!(f.len(), 1);
        features("ab", &mut f);
        assert_eq!(f.len(), 2);
        // Other scripts are words too.
        features("день", &mut f);
        assert_eq!(f.len(), 4);
        assert!(f.iter().any(|x| x.span == Some((0, 8))));
    }
}
