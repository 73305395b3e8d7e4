//! Files of posts, for `veille replay`: JSON Lines (one post, or one saved X API page, a
//! line), CSV with a header of the same column names, and a saved X API page as a `.json`
//! file. Posts keep their own timestamps, so a past event replays as it happened.
//!
//! Reading is resumable: every batch ends with a [`Cursor`] (a byte offset for JSON Lines, a
//! record count otherwise, and a fingerprint of the file's first bytes) that the caller
//! stores with the batch. The position belongs to the file's content: a file replaced under
//! the same name (a daily `export.jsonl`) no longer has the stored start, and is read from
//! its start; a file that only grew resumes where it stopped.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::xwire;
use crate::model::{Post, PostMetrics};

/// A line or record that is not a post: its kind (for counting) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    /// A short kind: `not JSON`, `not a post`, `malformed tweet`, `bad CSV record`.
    pub kind: &'static str,
    /// Where and why.
    pub detail: String,
}

/// One post of a file, or why a line is not one.
pub type Item = Result<Post, Bad>;

#[derive(Debug, Deserialize)]
struct FilePost {
    id: serde_json::Value,
    text: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    metrics: Option<PostMetrics>,
    #[serde(default)]
    platform: Option<String>,
}

impl FilePost {
    fn into_post(self) -> Result<Post, String> {
        let id = match self.id {
            serde_json::Value::String(s) if !s.is_empty() => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err("id must be a non-empty string or a number".into()),
        };
        Ok(Post {
            platform: self.platform.unwrap_or_else(|| "file".into()),
            id,
            original_id: None,
            text: self.text,
            created_at: self.created_at,
            author: self.author,
            lang: self.lang,
            url: self.url,
            metrics: self.metrics,
            about: None,
        })
    }
}

/// A CSV row: the JSON Lines fields as columns, the metrics as `likes`, `replies`, `reposts`
/// and `quotes` (a count that does not read is 0).
#[derive(Deserialize)]
struct CsvPost {
    id: Option<String>,
    text: Option<String>,
    created_at: Option<String>,
    author: Option<String>,
    lang: Option<String>,
    url: Option<String>,
    platform: Option<String>,
    likes: Option<String>,
    replies: Option<String>,
    reposts: Option<String>,
    quotes: Option<String>,
}

impl CsvPost {
    /// The post; `metrics` when the file has metric columns.
    fn into_post(self, metrics: bool) -> Result<Post, String> {
        let count = |v: Option<String>| v.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        Ok(Post {
            platform: self.platform.unwrap_or_else(|| "file".into()),
            id: self.id.ok_or("no id")?,
            original_id: None,
            text: self.text.ok_or("no text")?,
            created_at: self
                .created_at
                .ok_or("no created_at")?
                .parse::<DateTime<Utc>>()
                .map_err(|e| format!("created_at is not RFC 3339: {e}"))?,
            author: self.author,
            lang: self.lang,
            url: self.url,
            metrics: metrics.then(|| PostMetrics {
                likes: count(self.likes),
                replies: count(self.replies),
                reposts: count(self.reposts),
                quotes: count(self.quotes),
            }),
            about: None,
        })
    }
}

/// Parses one JSON line: a post, or a saved X API page (several posts).
pub fn parse_line(line: &[u8], out: &mut Vec<Item>, where_: &dyn Fn() -> String) {
    // The common case, a well-formed post, parses straight into its struct.
    if let Ok(p) = serde_json::from_slice::<FilePost>(line) {
        if let Ok(post) = p.into_post() {
            return out.push(Ok(post));
        }
    }
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return out.push(Err(Bad {
                kind: "not JSON",
                detail: format!("{}: {e}", where_()),
            }))
        }
    };
    if value.get("data").is_some_and(|d| d.is_array())
        || (value.get("meta").is_some() && value.get("text").is_none())
    {
        match xwire::Page::deserialize(&value) {
            Ok(page) => out.extend(page.posts().into_iter().map(|r| {
                r.map_err(|e| Bad {
                    kind: "malformed tweet",
                    detail: format!("{}: {e}", where_()),
                })
            })),
            Err(e) => out.push(Err(Bad {
                kind: "not a post",
                detail: format!("{}: {e}", where_()),
            })),
        }
        return;
    }
    out.push(
        FilePost::deserialize(&value)
            .map_err(|e| e.to_string())
            .and_then(FilePost::into_post)
            .map_err(|e| Bad {
                kind: "not a post",
                detail: format!("{}: {e}", where_()),
            }),
    );
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

enum Kind {
    Lines(BufReader<File>),
    Csv(csv::Reader<File>),
    Whole(std::vec::IntoIter<Item>),
}

/// How many first bytes of a file identify its content.
const HEAD_BYTES: u64 = 4096;

/// Where the replay of a file stopped, and what the file started with then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// A byte offset (JSON Lines) or a count of records (CSV, saved pages).
    pub position: u64,
    /// How many first bytes the fingerprint covers (the file's size, when shorter than 4 KiB).
    pub head_len: u64,
    /// FNV-1a hash of those bytes.
    pub head_hash: u64,
}

impl Cursor {
    /// A cursor as the store keeps it; a bare position, written by an older Veille, resumes
    /// with no fingerprint to check.
    pub fn from_stored(s: &str) -> Option<Cursor> {
        s.parse().ok().or_else(|| {
            s.parse().ok().map(|position| Cursor {
                position,
                head_len: 0,
                head_hash: crate::store::dedup_hash_bytes(b""),
            })
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{:016x}",
            self.position, self.head_len, self.head_hash
        )
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Cursor, ()> {
        let mut parts = s.split(':');
        let position = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let head_len = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let head_hash = u64::from_str_radix(parts.next().ok_or(())?, 16).map_err(|_| ())?;
        if parts.next().is_some() {
            return Err(());
        }
        Ok(Cursor {
            position,
            head_len,
            head_hash,
        })
    }
}

/// The fingerprint of the first `len` bytes of `file`, or `None` when it is shorter.
fn head_hash(file: &mut File, len: u64) -> std::io::Result<Option<u64>> {
    let mut head = Vec::with_capacity(len as usize);
    file.seek(SeekFrom::Start(0))?;
    Read::by_ref(file).take(len).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    Ok((head.len() as u64 == len).then(|| crate::store::dedup_hash_bytes(&head)))
}

/// A file being replayed.
pub struct PostFile {
    path: PathBuf,
    kind: Kind,
    /// Where the next batch starts: a byte offset (JSON Lines) or a record count.
    cursor: u64,
    head_len: u64,
    head_hash: u64,
    /// Whether a stored cursor was set aside because the file's content changed.
    pub restarted: bool,
}

impl PostFile {
    /// Opens `path` and moves past `stored` when the file still starts as it did then (from
    /// the top otherwise, or with `None`).
    pub fn open(path: &Path, stored: Option<Cursor>) -> anyhow::Result<PostFile> {
        let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let size = file
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        let head_len = size.min(HEAD_BYTES);
        let head = head_hash(&mut file, head_len)
            .with_context(|| format!("reading {}", path.display()))?
            .unwrap_or(0);
        let mut restarted = false;
        let cursor = match stored {
            None => 0,
            Some(c) => {
                let same = head_hash(&mut file, c.head_len)
                    .with_context(|| format!("reading {}", path.display()))?
                    == Some(c.head_hash);
                if same {
                    c.position
                } else {
                    restarted = true;
                    tracing::info!(
                        file = %path.display(),
                        "the file changed since its last replay: reading it from its start"
                    );
                    0
                }
            }
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = match ext.as_str() {
            "csv" => {
                let mut r = crate::columns::reader(file);
                // Skip as `next_batch` counted: a record that did not parse counts as one.
                let mut rec = csv::ByteRecord::new();
                for _ in 0..cursor {
                    match r.read_byte_record(&mut rec) {
                        Ok(true) | Err(_) => {}
                        Ok(false) => break,
                    }
                }
                Kind::Csv(r)
            }
            "json" => {
                let mut text = Vec::new();
                BufReader::new(file)
                    .read_to_end(&mut text)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut items = Vec::new();
                let shown = path.display().to_string();
                let text = text.strip_prefix(UTF8_BOM).unwrap_or(&text);
                parse_line(text, &mut items, &|| shown.clone());
                Kind::Whole(
                    items
                        .into_iter()
                        .skip(cursor as usize)
                        .collect::<Vec<_>>()
                        .into_iter(),
                )
            }
            _ => {
                let mut r = BufReader::with_capacity(1 << 20, file);
                r.seek(SeekFrom::Start(cursor))
                    .with_context(|| format!("seeking in {}", path.display()))?;
                if cursor == 0 {
                    // A byte order mark is not part of the first line.
                    if r.fill_buf()?.starts_with(UTF8_BOM) {
                        r.consume(UTF8_BOM.len());
                        return Ok(PostFile {
                            path: path.to_path_buf(),
                            kind: Kind::Lines(r),
                            cursor: UTF8_BOM.len() as u64,
                            head_len,
                            head_hash: head,
                            restarted,
                        });
                    }
                }
                Kind::Lines(r)
            }
        };
        Ok(PostFile {
            path: path.to_path_buf(),
            kind,
            cursor,
            head_len,
            head_hash: head,
            restarted,
        })
    }

    /// The cursor after the last batch read.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            position: self.cursor,
            head_len: self.head_len,
            head_hash: self.head_hash,
        }
    }

    /// Reads up to `max` lines or records into `out`. Returns false at the end of the file.
    pub fn next_batch(&mut self, max: usize, out: &mut Vec<Item>) -> anyhow::Result<bool> {
        let shown = self.path.display().to_string();
        match &mut self.kind {
            Kind::Lines(r) => {
                let mut line = Vec::with_capacity(512);
                for _ in 0..max {
                    line.clear();
                    let n = r
                        .read_until(b'\n', &mut line)
                        .with_context(|| format!("reading {shown}"))?;
                    if n == 0 {
                        return Ok(false);
                    }
                    let start = self.cursor;
                    self.cursor += n as u64;
                    let trimmed = line.trim_ascii();
                    if trimmed.is_empty() {
                        continue;
                    }
                    if !line.ends_with(b"\n")
                        && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_err()
                    {
                        // A truncated last line (a file still being written): leave it for later.
                        self.cursor = start;
                        out.push(Err(Bad {
                            kind: "truncated line",
                            detail: format!("{shown} at byte {start}: the last line has no end"),
                        }));
                        return Ok(false);
                    }
                    parse_line(trimmed, out, &|| format!("{shown} at byte {start}"));
                }
                Ok(true)
            }
            Kind::Csv(r) => {
                let columns = crate::columns::Columns::read(r)
                    .with_context(|| format!("reading the header of {shown}"))?;
                let metrics = ["likes", "replies", "reposts", "quotes"]
                    .iter()
                    .any(|c| columns.has(c));
                let mut rec = csv::StringRecord::new();
                for _ in 0..max {
                    let line = r.position().line();
                    match r.read_record(&mut rec) {
                        Ok(false) => return Ok(false),
                        Ok(true) => {}
                        Err(e) => {
                            self.cursor += 1;
                            out.push(Err(Bad {
                                kind: "bad CSV record",
                                detail: format!("{shown}:{line}: {e}"),
                            }));
                            continue;
                        }
                    }
                    self.cursor += 1;
                    let post = columns
                        .row::<CsvPost>(&rec)
                        .and_then(|row| row.into_post(metrics));
                    out.push(post.map_err(|e| Bad {
                        kind: "not a post",
                        detail: format!("{shown}:{line}: {e}"),
                    }));
                }
                Ok(true)
            }
            Kind::Whole(items) => {
                for _ in 0..max {
                    match items.next() {
                        Some(item) => {
                            self.cursor += 1;
                            out.push(item);
                        }
                        None => return Ok(false),
                    }
                }
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_from(path: &Path, cursor: Option<Cursor>) -> (Vec<Item>, Cursor) {
        let mut f = PostFile::open(path, cursor).expect("opens");
        let mut out = Vec::new();
        while f.next_batch(2, &mut out).expect("reads") {}
        (out, f.cursor())
    }

    /// Reads from `position` of the file as it is.
    fn read_all(path: &Path, position: u64) -> (Vec<Item>, u64) {
        let head = PostFile::open(path, None).expect("opens").cursor();
        let (items, c) = read_from(path, Some(Cursor { position, ..head }));
        (items, c.position)
    }

    #[test]
    fn jsonl_posts_and_pages_with_bad_lines_in_place() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"id":"a","text":"Une honte","created_at":"2024-05-01T10:00:00Z","lang":"fr","metrics":{"likes":3}}"#, "\n",
                "not json\n",
                "\n",
                r#"{"id":7,"text":"num id","created_at":"2024-05-01T10:01:00+02:00"}"#, "\n",
                r#"{"id":"b","text":"no date"}"#, "\n",
                r#"{"data":[{"id":"9","text":"from a page","created_at":"2024-05-01T10:02:00.000Z","author_id":"1"}],"includes":{"users":[{"id":"1","username":"u"}]},"meta":{"result_count":1}}"#, "\n",
            ),
        )
        .expect("write");
        let (items, cursor) = read_all(&path, 0);
        assert_eq!(cursor, std::fs::metadata(&path).expect("meta").len());
        let kinds: Vec<&str> = items
            .iter()
            .map(|i| match i {
                Ok(_) => "post",
                Err(b) => b.kind,
            })
            .collect();
        assert_eq!(kinds, ["post", "not JSON", "post", "not a post", "post"]);
        let posts: Vec<&Post> = items.iter().filter_map(|i| i.as_ref().ok()).collect();
        assert_eq!(posts[0].metrics.map(|m| m.likes), Some(3));
        assert_eq!(posts[1].id, "7");
        assert_eq!(
            posts[1].created_at.to_rfc3339(),
            "2024-05-01T08:01:00+00:00"
        );
        assert_eq!(
            (posts[2].platform.as_str(), posts[2].author.as_deref()),
            ("x", Some("u"))
        );
    }

    #[test]
    fn reading_resumes_from_a_cursor() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.jsonl");
        let line = |i: u32| {
            format!("{{\"id\":\"{i}\",\"text\":\"t\",\"created_at\":\"2024-05-01T10:00:00Z\"}}\n")
        };
        std::fs::write(&path, (0..5).map(line).collect::<String>()).expect("write");
        let mut f = PostFile::open(&path, None).expect("opens");
        let mut first = Vec::new();
        f.next_batch(2, &mut first).expect("reads");
        let stored: Cursor = f.cursor().to_string().parse().expect("round trip");
        let (rest, _) = read_from(&path, Some(stored));
        let ids: Vec<String> = rest.into_iter().map(|i| i.expect("post").id).collect();
        assert_eq!(ids, ["2", "3", "4"]);
        // The file grows: the replay resumes where it stopped.
        let mut grown = std::fs::read_to_string(&path).expect("read");
        grown.push_str(&line(5));
        std::fs::write(&path, grown).expect("append");
        let (rest, _) = read_from(&path, Some(stored));
        assert_eq!(rest.len(), 4);
    }

    #[test]
    fn a_replaced_file_is_read_from_its_start() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("export.jsonl");
        let line = |day: u32, i: u32| {
            format!("{{\"id\":\"d{day}-{i}\",\"text\":\"t\",\"created_at\":\"2024-05-0{day}T10:00:00Z\"}}\n")
        };
        std::fs::write(&path, (0..5).map(|i| line(1, i)).collect::<String>()).expect("day 1");
        let (first, end) = read_from(&path, None);
        assert_eq!(first.len(), 5);
        // The next day's export, shorter, and one longer than the first: both read whole.
        std::fs::write(&path, (0..3).map(|i| line(2, i)).collect::<String>()).expect("day 2");
        let f = PostFile::open(&path, Some(end)).expect("opens");
        assert!(f.restarted);
        let (items, end2) = read_from(&path, Some(end));
        let ids: Vec<String> = items.into_iter().map(|i| i.expect("post").id).collect();
        assert_eq!(ids, ["d2-0", "d2-1", "d2-2"]);
        std::fs::write(&path, (0..9).map(|i| line(3, i)).collect::<String>()).expect("day 3");
        let (items, _) = read_from(&path, Some(end2));
        assert_eq!(items.len(), 9, "not resumed in the middle of a line");
        assert!(items.iter().all(Result::is_ok));
    }

    #[test]
    fn a_byte_order_mark_does_not_cost_the_first_line() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bom.jsonl");
        let body = "{\"id\":\"1\",\"text\":\"t\",\"created_at\":\"2024-05-01T10:00:00Z\"}\n{\"id\":\"2\",\"text\":\"t\",\"created_at\":\"2024-05-01T10:00:00Z\"}\n";
        std::fs::write(&path, format!("\u{FEFF}{body}")).expect("write");
        let (items, _) = read_from(&path, None);
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(Result::is_ok), "{items:?}");
        let csv = dir.path().join("bom.csv");
        std::fs::write(
            &csv,
            "\u{FEFF}id,text,created_at\n1,t,2024-05-01T10:00:00Z\n",
        )
        .expect("write");
        let (items, _) = read_from(&csv, None);
        assert!(matches!(items.as_slice(), [Ok(_)]), "{items:?}");
    }

    #[test]
    fn csv_resume_skips_a_bad_record_as_one_record() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.csv");
        let mut bytes = b"id,text,created_at\n1,a,2024-05-01T10:00:00Z\n2,\"".to_vec();
        bytes.extend_from_slice(b"\xff\xfe not utf-8\",2024-05-01T10:00:00Z\n");
        bytes.extend_from_slice(b"3,c,2024-05-01T10:00:00Z\n4,d,2024-05-01T10:00:00Z\n");
        std::fs::write(&path, bytes).expect("write");
        let (all, end) = read_all(&path, 0);
        assert_eq!(all.len(), 4);
        assert!(all[1].is_err(), "{all:?}");
        assert_eq!(end, 4);
        let (rest, _) = read_all(&path, 3);
        let ids: Vec<String> = rest.into_iter().map(|i| i.expect("post").id).collect();
        assert_eq!(
            ids,
            ["4"],
            "the bad record counts as one record, not as the end"
        );
    }

    #[test]
    fn a_truncated_last_line_is_left_for_later() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.jsonl");
        let first = "{\"id\":\"1\",\"text\":\"t\",\"created_at\":\"2024-05-01T10:00:00Z\"}\n";
        std::fs::write(&path, format!("{first}{{\"id\":\"2\",\"te")).expect("write");
        let (items, cursor) = read_all(&path, 0);
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1].as_ref().expect_err("truncated").kind,
            "truncated line"
        );
        assert_eq!(
            cursor,
            first.len() as u64,
            "the cursor stays before the truncated line"
        );
    }

    #[test]
    fn csv_with_a_header_and_a_bad_row() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.csv");
        std::fs::write(
            &path,
            "id,text,created_at,author,likes\n1,\"Bravo, Angers\",2024-05-01T10:00:00Z,bob,4\n2,no date,,bob,1\n3,ok,2024-05-01T11:00:00Z,,\n",
        )
        .expect("write");
        let (items, cursor) = read_all(&path, 0);
        assert_eq!(cursor, 3);
        assert_eq!(items[0].as_ref().expect("post").text, "Bravo, Angers");
        assert_eq!(
            items[0].as_ref().expect("post").metrics.map(|m| m.likes),
            Some(4)
        );
        assert!(items[1]
            .as_ref()
            .expect_err("bad")
            .detail
            .contains("p.csv:3: no created_at"));
        let (rest, _) = read_all(&path, 2);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].as_ref().expect("post").id, "3");
    }

    #[test]
    fn a_saved_x_page_as_a_json_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("page.json");
        std::fs::write(
            &path,
            "{\n \"data\": [\n  {\"id\":\"1\",\"text\":\"a\",\"created_at\":\"2024-05-01T10:00:00.000Z\"},\n  {\"id\":\"2\",\"text\":\"b\",\"created_at\":\"2024-05-01T10:00:00.000Z\"}\n ],\n \"meta\": {\"result_count\": 2}\n}\n",
        )
        .expect("write");
        let (items, cursor) = read_all(&path, 0);
        assert_eq!((items.len(), cursor), (2, 2));
        let (rest, _) = read_all(&path, 1);
        assert_eq!(rest.len(), 1);
    }
}
