//! `replay`: files of posts into the store, posts keeping their own timestamps, each counted
//! once. Blocking: it reads and writes as fast as the disk allows.

use std::path::PathBuf;

use super::{CommandError, CommandResult, Context};
use crate::ingest::file::{Cursor, PostFile};
use crate::ingest::{Events, IngestStats, Ingestor};
use crate::model::Lang;

/// Posts a batch: one atomic store write each.
const BATCH: usize = 4096;

/// Where a replay stands, after each batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    /// The file being read.
    pub file: PathBuf,
    /// Bytes (JSON Lines) or records read so far in it.
    pub position: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Posts read so far, every file included.
    pub posts: u64,
}

/// What `replay` is asked.
#[derive(Debug, Clone, Default)]
pub struct ReplayQuery {
    /// The files, read in order.
    pub files: Vec<PathBuf>,
    /// Read each file from its start instead of where its last replay stopped (posts already
    /// stored are still counted once).
    pub from_start: bool,
}

/// Replays files into the store, resuming each from its stored cursor unless `from_start`
/// or the file's content changed; publishes each commit on `events` when given.
pub fn replay(
    ctx: &Context,
    q: &ReplayQuery,
    events: Option<Events>,
    lang: Lang,
    progress: &mut dyn FnMut(&ReplayProgress),
) -> CommandResult<IngestStats> {
    let store = &ctx.store;
    let mut ing = Ingestor::new(ctx.watcher.clone(), store);
    if let Some(events) = events {
        ing = ing.with_events(events);
    }
    let mut items = Vec::with_capacity(BATCH);
    for path in &q.files {
        let canonical = path.canonicalize().map_err(|e| {
            CommandError::user_in(
                lang,
                format!("impossible d'ouvrir {} : {e}", path.display()),
                format!("cannot open {}: {e}", path.display()),
            )
        })?;
        let source = format!("file:{}", canonical.display());
        let cursor = if q.from_start {
            None
        } else {
            store.cursor(&source)?.and_then(|c| Cursor::from_stored(&c))
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut file = PostFile::open(path, cursor)?;
        loop {
            items.clear();
            let more = file.next_batch(BATCH, &mut items)?;
            for item in items.drain(..) {
                match item {
                    Ok(post) => ing.process(post)?,
                    Err(bad) => ing.bad(&source, bad.kind, &bad.detail),
                }
            }
            ing.commit(Some((source.clone(), file.cursor().to_string())))?;
            progress(&ReplayProgress {
                file: path.clone(),
                position: file.cursor().position,
                size,
                posts: ing.stats.posts,
            });
            if !more {
                break;
            }
        }
    }
    Ok(ing.finish()?)
}
