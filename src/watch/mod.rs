//! The mention watcher: who a post names ([`matcher`]) and whether it is critical ([`classifier`]).
//!
//! Pure and synchronous: text in, [`Verdict`] out, no I/O (lexicon files are read once, at
//! construction). A [`Watcher`] is shared read-only between threads; each thread keeps its own
//! [`Scratch`] so that the hot path does not allocate.

pub mod classifier;
pub mod fold;
pub mod learned;
pub mod lexicon;
pub mod matcher;

use crate::model::{EntitySpec, Label, Verdict};
use classifier::{Classifier, Lang, Outcome, Tuning};
use fold::Folded;
use lexicon::Lexicon;
use matcher::{Hit, Matcher};

/// The matcher and the classifier, ready to read posts.
#[derive(Debug, Clone)]
pub struct Watcher {
    matcher: Matcher,
    classifier: Classifier,
    /// Fitted on the team's corrections; `None` without any (the lexicon alone decides).
    learned: Option<std::sync::Arc<learned::Model>>,
}

/// Per-thread buffers for [`Watcher::analyze`].
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    /// The folded text of the last post.
    pub folded: Folded,
    /// The watched names found in the last post.
    pub hits: Vec<Hit>,
    /// The classifier's buffers; its `cues` are those of the last post.
    pub classifier: classifier::Scratch,
    /// The learned model's features of the last post.
    pub features: Vec<learned::Feature>,
}

impl Watcher {
    /// A watcher for `entities` with the given lexicon and tuning.
    pub fn new(entities: &[EntitySpec], lexicon: Lexicon, tuning: Tuning) -> Watcher {
        Watcher {
            matcher: Matcher::new(entities),
            classifier: Classifier::new(lexicon, tuning),
            learned: None,
        }
    }

    /// The same watcher deciding with a model fitted on corrections (`None`: the lexicon).
    pub fn with_model(mut self, model: Option<learned::Model>) -> Watcher {
        self.learned = model.map(std::sync::Arc::new);
        self
    }

    /// The corrections the model was fitted on (0 without a model).
    pub fn learned_from(&self) -> usize {
        self.learned.as_ref().map_or(0, |m| m.examples)
    }

    /// A correction as the model learns it: the text's features and the lexicon's logit.
    pub fn example(
        &self,
        text: &str,
        lang: Option<&str>,
        critical: bool,
        scratch: &mut Scratch,
    ) -> learned::Example {
        let outcome = self.lexicon_outcome(text, lang, scratch);
        let mut features = Vec::new();
        learned::features(&scratch.folded.text, &mut features);
        learned::Example {
            features,
            logit: self.logit(outcome.raw),
            critical,
        }
    }

    fn logit(&self, raw: f32) -> f32 {
        1.5 * (raw - self.classifier.tuning().threshold)
    }

    fn lexicon_outcome(&self, text: &str, lang: Option<&str>, scratch: &mut Scratch) -> Outcome {
        scratch.folded.fold(text);
        scratch.hits.clear();
        self.matcher.find(&scratch.folded, text, &mut scratch.hits);
        scratch.classifier.targets.clear();
        scratch
            .classifier
            .targets
            .extend(scratch.hits.iter().map(|h| (h.start as u32, h.end as u32)));
        self.classifier.classify(
            text,
            &scratch.folded,
            lang.map(Lang::from_tag),
            &mut scratch.classifier,
        )
    }

    /// The matcher.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Matches and classifies one post, leaving hits and cues in `scratch`. `lang` is the
    /// post's language tag when it has one.
    pub fn analyze(&self, text: &str, lang: Option<&str>, scratch: &mut Scratch) -> Outcome {
        let outcome = self.lexicon_outcome(text, lang, scratch);
        let Some(model) = &self.learned else {
            return outcome;
        };
        learned::features(&scratch.folded.text, &mut scratch.features);
        let p = model.probability(&scratch.features, self.logit(outcome.raw));
        let critical = p >= 0.5;
        if !critical {
            scratch.classifier.cues.clear();
        } else {
            // The lexicon's cues, then the n-grams the corrections taught.
            for (start, end) in model.top_spans(&scratch.features, 3) {
                let cue = classifier::Cue { start, end };
                if !scratch.classifier.cues.contains(&cue) {
                    scratch.classifier.cues.push(cue);
                }
            }
        }
        Outcome {
            critical,
            score: p,
            raw: outcome.raw,
        }
    }

    /// [`Watcher::analyze`], then the verdict as owned data.
    pub fn verdict(&self, text: &str, lang: Option<&str>, scratch: &mut Scratch) -> Verdict {
        let outcome = self.analyze(text, lang, scratch);
        Verdict {
            label: if outcome.critical {
                Label::Critical
            } else {
                Label::Neutral
            },
            score: outcome.score,
            cues: cue_texts(scratch),
            mentions: self.matcher.names(&scratch.hits),
        }
    }
}

/// Builds the watcher for `entities` from the bundled lexicon, the deployment's extra cue
/// files and the tuning.
pub fn build(
    extra_cues: &[std::path::PathBuf],
    tuning: Tuning,
    entities: &[EntitySpec],
) -> anyhow::Result<Watcher> {
    let lexicon = Lexicon::load(extra_cues)?;
    Ok(Watcher::new(entities, lexicon, tuning))
}

/// The cues of the last analysis, as text (folded), once each.
pub fn cue_texts(scratch: &Scratch) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(scratch.classifier.cues.len());
    for c in &scratch.classifier.cues {
        let s = &scratch.folded.text[c.start as usize..c.end as usize];
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntityKind;

    fn watcher() -> Watcher {
        let e = |name: &str, kind| EntitySpec {
            name: name.into(),
            kind,
            aliases: vec![],
            ambiguous: false,
            exclude: Vec::new(),
        };
        build(
            &[],
            Tuning::default(),
            &[
                e("La Redoute", EntityKind::Brand),
                e("Angers", EntityKind::Commune),
                e("Lourdes", EntityKind::Commune),
            ],
        )
        .expect("watcher")
    }

    #[test]
    fn the_words_of_a_watched_name_are_neither_cues_nor_praise() {
        let w = watcher();
        let mut s = Scratch::default();
        for text in [
            "Commande La Redoute reçue ce matin",
            "Weekend in Angers with friends",
            "Pèlerinage à Lourdes avec la paroisse",
        ] {
            let v = w.verdict(text, None, &mut s);
            assert_eq!(v.label, Label::Neutral, "{text}: {:?}", v.cues);
        }
        // What the post says of the name still counts.
        let v = w.verdict("La Redoute ne répond pas, honteux", None, &mut s);
        assert_eq!(v.label, Label::Critical);
        assert!(
            !v.cues.iter().any(|c| c.contains("redoute")),
            "{:?}",
            v.cues
        );
    }
}
