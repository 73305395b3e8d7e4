//! The mention watcher: who a post names ([`matcher`]) and whether it is critical ([`classifier`]).
//!
//! Pure and synchronous: text in, [`Verdict`] out, no I/O (lexicon files are read once, at
//! construction). A [`Watcher`] is shared read-only between threads; each thread keeps its own
//! [`Scratch`] so that the hot path does not allocate.

pub mod classifier;
pub mod fold;
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
}

impl Watcher {
    /// A watcher for `entities` with the given lexicon and tuning.
    pub fn new(entities: &[EntitySpec], lexicon: Lexicon, tuning: Tuning) -> Watcher {
        Watcher {
            matcher: Matcher::new(entities),
            classifier: Classifier::new(lexicon, tuning),
        }
    }

    /// The matcher.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Matches and classifies one post, leaving hits and cues in `scratch`. `lang` is the
    /// post's language tag when it has one.
    pub fn analyze(&self, text: &str, lang: Option<&str>, scratch: &mut Scratch) -> Outcome {
        scratch.folded.fold(text);
        scratch.hits.clear();
        self.matcher.find(&scratch.folded, text, &mut scratch.hits);
        self.classifier.classify(
            &scratch.folded,
            lang.map(Lang::from_tag),
            &mut scratch.classifier,
        )
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
