//! What the team's corrections teach: a logistic regression over the lexicon's own logit
//! and hashed word and character n-grams of the folded text, fitted in Rust.
//!
//! The model starts as the lexicon (the logit's weight 1, every other weight 0), so with few
//! corrections it barely moves, and with none it is not used at all: the classifier is then
//! exactly the lexicon's. Each correction pulls the n-grams of its text towards its label;
//! L2 keeps the weights small.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Hashed feature slots.
const DIM: usize = 1 << 18;
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

/// FNV-1a over parts, each part closed by a separator byte, reduced to a slot.
struct Fnv(u64);

impl Fnv {
    const PRIME: u64 = 0x0100_0000_01b3;

    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(Fnv::PRIME);
        }
    }

    fn end_part(&mut self) {
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(Fnv::PRIME);
    }

    fn slot(&self) -> u32 {
        (self.0 % DIM as u64) as u32
    }
}

fn fnv(parts: &[&[u8]]) -> u32 {
    let mut h = Fnv::new();
    for p in parts {
        h.bytes(p);
        h.end_part();
    }
    h.slot()
}

/// The features of a folded text: words, word pairs, and 4-grams of characters within words
/// (so that `annule`, `annulation` and `#annule` share some), each slot once. Allocates
/// nothing once `out` has grown (it runs on every post when a model is in use).
pub fn features(folded: &str, out: &mut Vec<Feature>) {
    out.clear();
    let mut prev: Option<(usize, usize)> = None;
    let mut start = None;
    for (i, c) in folded.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            word_features(folded, (s, i), prev, out);
            prev = Some((s, i));
        }
    }
    if let Some(s) = start {
        word_features(folded, (s, folded.len()), prev, out);
    }
    out.sort_unstable_by_key(|f| (f.slot, f.span.is_none()));
    out.dedup_by_key(|f| f.slot);
}

/// One word's features: itself, the pair it ends, its character 4-grams (padded with a
/// space at both ends).
fn word_features(
    folded: &str,
    (s, e): (usize, usize),
    prev: Option<(usize, usize)>,
    out: &mut Vec<Feature>,
) {
    let bytes = folded.as_bytes();
    let w = &bytes[s..e];
    out.push(Feature {
        slot: fnv(&[b"w", w]),
        span: Some((s as u32, e as u32)),
    });
    if let Some((ps, pe)) = prev {
        out.push(Feature {
            slot: fnv(&[b"b", &bytes[ps..pe], w]),
            span: Some((ps as u32, e as u32)),
        });
    }
    // Character 4-grams of ` word `: the last five offsets where a character starts (the
    // padding spaces start just outside the word) bound the last four characters.
    let mut starts = [0usize; 5];
    let mut seen = 0usize;
    let padded = std::iter::once(s.wrapping_sub(1))
        .chain(folded[s..e].char_indices().map(|(i, _)| s + i))
        .chain([e, e + 1]);
    for at in padded {
        starts[seen % 5] = at;
        seen += 1;
        if seen < 5 {
            continue;
        }
        let mut h = Fnv::new();
        h.bytes(b"c");
        h.end_part();
        for k in 0..4 {
            let (a, b) = (starts[(seen + k) % 5], starts[(seen + k + 1) % 5]);
            h.bytes(if a < s || a >= e { b" " } else { &bytes[a..b] });
        }
        h.end_part();
        out.push(Feature {
            slot: h.slot(),
            span: None,
        });
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
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for pass in 0..EPOCHS {
            order.shuffle(&mut rng);
            let rate = RATE / ((pass + 1) as f32).sqrt();
            for &i in &order {
                let e = &examples[i];
                let p = m.probability(&e.features, e.logit);
                let g = p - if e.critical { 1.0 } else { 0.0 };
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

    #[test]
    fn an_unfitted_model_is_the_lexicon_and_corrections_move_it() {
        let m = Model::fit(&[]);
        let e = ex("colis jamais recu", -1.0, true);
        assert!(
            m.probability(&e.features, e.logit) < 0.5,
            "the lexicon said neutral"
        );
        // The team says: parcels never received are complaints.
        let train: Vec<Example> = (0..20)
            .map(|i| ex(&format!("colis {i} jamais recu"), -1.0, true))
            .chain((0..20).map(|i| ex(&format!("colis {i} bien recu merci"), -1.0, false)))
            .collect();
        let m = Model::fit(&train);
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
    fn features_are_deduplicated_and_located() {
        let mut f = Vec::new();
        features("vol annule vol annule", &mut f);
        let mut slots: Vec<u32> = f.iter().map(|x| x.slot).collect();
        slots.dedup();
        assert_eq!(slots.len(), f.len());
        assert!(f.iter().any(|x| x.span == Some((0, 3))));
    }
}
