//! What sources send down the pipeline, and the plumbing every live source shares: the
//! bounded channel, cancellation and reconnect backoff.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::file::Bad;
use crate::model::Post;

/// A batch of posts from one source, with the source's cursor once they are stored.
#[derive(Debug, Default)]
pub struct SourceBatch {
    /// The source's name, also its cursor's key in the store (`x-search:…`, `bluesky:jetstream`).
    pub source: String,
    /// The posts.
    pub posts: Vec<Post>,
    /// Inputs that were not posts.
    pub bad: Vec<Bad>,
    /// Posts kept with a fallback (an unreadable date replaced by the event's time).
    pub notes: Vec<Bad>,
    /// The cursor to store with the batch: the source resumes from it after a restart.
    pub cursor: Option<String>,
    /// Posts deleted where they were published, by dedup key and time: their kept text is
    /// removed (their counts stay).
    pub removed: Vec<(String, i64)>,
    /// Posts the service bills that this batch read (X's, whether or not they are new).
    pub billed: u64,
}

impl SourceBatch {
    /// Whether it carries nothing (no post, no bad input, no note, no removal).
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
            && self.bad.is_empty()
            && self.notes.is_empty()
            && self.removed.is_empty()
    }
}

/// The sending side of the pipeline: bounded, so a slow store holds the sources back.
pub type Sender = tokio::sync::mpsc::Sender<SourceBatch>;

/// Sends a batch; false when the source should stop (the pipeline is shutting down or its
/// consumer is gone).
///
/// The batch is delivered even during shutdown: the consumer drains the channel until every
/// source has dropped its sender, so waiting here always ends, and what a source read before
/// the stop is stored with its cursor instead of being dropped.
pub async fn send(tx: &Sender, cancel: &CancellationToken, batch: SourceBatch) -> bool {
    tx.send(batch).await.is_ok() && !cancel.is_cancelled()
}

/// Sleeps unless cancelled; false when cancelled.
pub async fn sleep(cancel: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// How reading a stream ended.
pub enum StreamEnd {
    /// The source was cancelled.
    Stopped,
    /// The connection dropped, and why.
    Dropped(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_sent_during_shutdown_is_delivered() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let cancel = CancellationToken::new();
        cancel.cancel();
        for _ in 0..20 {
            let batch = SourceBatch {
                source: "t".into(),
                cursor: Some("c".into()),
                ..SourceBatch::default()
            };
            assert!(
                !send(&tx, &cancel, batch).await,
                "the source is told to stop"
            );
            assert_eq!(
                rx.recv().await.and_then(|b| b.cursor).as_deref(),
                Some("c"),
                "and the batch still arrives"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_on_time_or_as_soon_as_the_source_is_cancelled() {
        // Arrange: the clock is paused, so the waits take no real time and are exact.
        let cancel = CancellationToken::new();
        let start = tokio::time::Instant::now();
        // Act and assert: a full wait.
        assert!(sleep(&cancel, Duration::from_secs(64)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(64));
        // A wait cut short by a cancellation 5 s in.
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            stop.cancel();
        });
        let start = tokio::time::Instant::now();
        assert!(!sleep(&cancel, Duration::from_secs(60)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }
}
