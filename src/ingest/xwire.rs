//! The X API v2 wire format: a page of posts (`data`, `includes.users`, `meta`) as recent
//! search answers it and as users save it, and one filtered-stream line. Shared by the X
//! source and the file replay. No I/O.

use std::collections::HashMap;

use serde::Deserialize;

use crate::model::{Post, PostMetrics};

/// One page of posts.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    /// The posts; each is kept raw so that one malformed post does not lose the page.
    #[serde(default)]
    pub data: Vec<serde_json::Value>,
    /// Expanded objects.
    #[serde(default)]
    pub includes: Includes,
    /// Paging.
    #[serde(default)]
    pub meta: Meta,
}

/// Expansions.
#[derive(Debug, Default, Deserialize)]
pub struct Includes {
    /// Authors.
    #[serde(default)]
    pub users: Vec<User>,
}

/// An author.
#[derive(Debug, Deserialize)]
pub struct User {
    /// Its id.
    pub id: String,
    /// Its handle.
    pub username: String,
}

/// Paging fields.
#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    /// The newest id on the page (the next `since_id`).
    #[serde(default)]
    pub newest_id: Option<String>,
    /// The token of the next page, when there is one.
    #[serde(default)]
    pub next_token: Option<String>,
    /// Posts on the page.
    #[serde(default)]
    pub result_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Tweet {
    id: String,
    text: String,
    created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    public_metrics: Option<PostMetrics>,
    #[serde(default)]
    referenced_tweets: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

impl Page {
    /// The page's posts; a malformed one is an `Err` with the reason, in place.
    pub fn posts(&self) -> Vec<Result<Post, String>> {
        let users: HashMap<&str, &str> = self
            .includes
            .users
            .iter()
            .map(|u| (u.id.as_str(), u.username.as_str()))
            .collect();
        self.data
            .iter()
            .map(|raw| tweet_to_post(raw, &users))
            .collect()
    }
}

/// Converts one raw tweet, naming its author from `users` when the page expanded it.
pub fn tweet_to_post(raw: &serde_json::Value, users: &HashMap<&str, &str>) -> Result<Post, String> {
    let t = Tweet::deserialize(raw).map_err(|e| format!("malformed tweet: {e}"))?;
    let username = t.author_id.as_deref().and_then(|a| users.get(a).copied());
    let original_id = t
        .referenced_tweets
        .iter()
        .find(|r| r.kind == "retweeted")
        .map(|r| r.id.clone());
    Ok(Post {
        platform: "x".into(),
        url: Some(format!(
            "https://x.com/{}/status/{}",
            username.unwrap_or("i/web"),
            t.id
        )),
        id: t.id,
        original_id,
        text: t.text,
        created_at: t.created_at,
        author: username.map(str::to_string).or(t.author_id),
        lang: t.lang,
        metrics: t.public_metrics,
        about: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_search_page_becomes_posts_with_authors_and_urls() {
        let page: Page = serde_json::from_str(
            r#"{"data":[
                {"id":"1234567890123456789","text":"Just started learning Python and loving it!","created_at":"2024-01-15T10:30:00.000Z","author_id":"9876543210","public_metrics":{"retweet_count":5,"reply_count":2,"like_count":42,"quote_count":1},"edit_history_tweet_ids":["1234567890123456789"]},
                {"id":"2","text":"RT @a: hello","created_at":"2024-01-15T10:31:00.000Z","author_id":"1","referenced_tweets":[{"type":"retweeted","id":"1234567890123456789"}]},
                {"id":"3","created_at":"2024-01-15T10:31:00.000Z"}
               ],
               "includes":{"users":[{"id":"9876543210","username":"pythondev","verified":false}]},
               "meta":{"newest_id":"1234567890123456789","oldest_id":"1234567890123456789","result_count":3,"next_token":"abc"}}"#,
        )
        .expect("page parses");
        let posts = page.posts();
        let p = posts[0].as_ref().expect("first post");
        assert_eq!(p.author.as_deref(), Some("pythondev"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://x.com/pythondev/status/1234567890123456789")
        );
        assert_eq!(p.metrics.map(|m| m.likes), Some(42));
        let rt = posts[1].as_ref().expect("retweet");
        assert_eq!(
            rt.dedup_key(),
            p.dedup_key(),
            "a retweet counts as its original"
        );
        assert!(posts[2]
            .as_ref()
            .expect_err("no text")
            .contains("malformed tweet"));
        assert_eq!(page.meta.next_token.as_deref(), Some("abc"));
    }

    #[test]
    fn an_empty_page_has_no_posts() {
        let page: Page = serde_json::from_str(r#"{"meta":{"result_count":0}}"#).expect("parses");
        assert!(page.posts().is_empty());
        assert_eq!(page.meta.result_count, Some(0));
    }
}
