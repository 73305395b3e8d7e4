use super::*;
use crate::model::EntityKind;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A day's budget larger than any test reads.
fn budget() -> std::sync::Arc<Budget> {
    let cfg = XConfig {
        max_reads_per_day: 1_000_000,
        ..XConfig::default()
    };
    std::sync::Arc::new(Budget::new(&cfg, 0, None))
}

fn fast() -> Retry {
    Retry::fast()
}

fn entity(name: &str, aliases: &[&str], ambiguous: bool) -> EntitySpec {
    EntitySpec {
        name: name.into(),
        kind: EntityKind::Commune,
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ambiguous,
        exclude: Vec::new(),
    }
}

fn cfg(base: &str) -> XConfig {
    XConfig {
        base_url: base.into(),
        ..XConfig::default()
    }
}

fn tweet(id: &str, text: &str) -> serde_json::Value {
    json!({"id": id, "text": text, "created_at": "2024-05-01T10:00:00.000Z", "author_id": "1", "edit_history_tweet_ids": [id]})
}

#[test]
fn queries_quote_names_skip_ambiguous_words_and_stay_under_512() {
    let q = build_queries(&[
        entity("Air France", &["@airfrance", "#AirFrance"], false),
        entity("Nice", &["@VilledeNice"], true),
        entity("Bourg-la-Reine", &[], false),
    ]);
    assert_eq!(
        q,
        [
            r#"("Air France" OR @airfrance OR #AirFrance OR @VilledeNice OR "Bourg-la-Reine") -is:retweet"#
        ]
    );
    let many: Vec<EntitySpec> = (0..300)
        .map(|i| entity(&format!("Commune{i}"), &[&format!("@ville{i}")], false))
        .collect();
    let q = build_queries(&many);
    assert!(q.len() > 1, "split over the limit");
    assert!(
        q.iter().all(|q| q.len() <= MAX_QUERY_LEN),
        "{:?}",
        q.iter().map(|q| q.len()).collect::<Vec<_>>()
    );
    let all: String = q.join(" ");
    assert!(
        all.contains("Commune0 ") && all.contains("@ville299)"),
        "every term is kept"
    );
}

/// Serves two pages: the first with a next_token, the second without.
struct Pages;

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let token = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "next_token")
            .map(|(_, v)| v.into_owned());
        let body = match token.as_deref() {
            None => json!({"data": [tweet("30", "@SNCF une honte"), tweet("29", "hello")],
                           "includes": {"users": [{"id": "1", "username": "alice"}]},
                           "meta": {"newest_id": "30", "oldest_id": "29", "result_count": 2, "next_token": "t2"}}),
            Some(_) => json!({"data": [tweet("28", "bye"), {"id": "27"}],
                              "meta": {"oldest_id": "27", "result_count": 2}}),
        };
        ResponseTemplate::new(200).set_body_json(body)
    }
}

async fn drain(rx: &mut tokio::sync::mpsc::Receiver<SourceBatch>) -> Vec<SourceBatch> {
    let mut out = Vec::new();
    while let Ok(b) = rx.try_recv() {
        out.push(b);
    }
    out
}

#[tokio::test]
async fn recent_search_follows_next_token_then_resumes_from_since_id() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .and(query_param("max_results", "100"))
        .and(query_param("expansions", "author_id"))
        .respond_with(Pages)
        .mount(&server)
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let cancel = CancellationToken::new();
    let mut s = Search::new(
        &cfg(&server.uri()),
        SecretString::from("tok"),
        vec!["(SNCF) -is:retweet".into()],
        &HashMap::new(),
        fast(),
        budget(),
    );
    // Act
    s.poll_once(&tx, &cancel).await.expect("polls");
    let batches = drain(&mut rx).await;
    // Assert
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].cursor, None, "no cursor before the last page");
    assert_eq!(batches[1].cursor.as_deref(), Some("30"));
    assert_eq!(batches[0].posts[0].author.as_deref(), Some("alice"));
    assert_eq!(
        batches[1].bad.len(),
        1,
        "the malformed tweet is reported, the page goes on"
    );
    let first = &server.received_requests().await.expect("recorded")[0];
    assert!(
        first.url.query_pairs().any(|(k, _)| k == "start_time"),
        "a new query looks back, it does not read 7 days"
    );
    s.poll_once(&tx, &cancel).await.expect("polls again");
    let requests = server.received_requests().await.expect("recorded");
    let third = &requests[2];
    assert_eq!(
        third
            .url
            .query_pairs()
            .find(|(k, _)| k == "since_id")
            .map(|(_, v)| v.into_owned())
            .as_deref(),
        Some("30")
    );
    assert_eq!(
        third
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("")),
        Some("Bearer tok")
    );
}

#[tokio::test]
async fn recent_search_resumes_from_a_stored_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Pages)
        .mount(&server)
        .await;
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let q = "(SNCF) -is:retweet".to_string();
    let cursors: HashMap<String, String> = [(query_key(&q), "25".to_string())].into();
    let mut s = Search::new(
        &cfg(&server.uri()),
        SecretString::from("tok"),
        vec![q],
        &cursors,
        fast(),
        budget(),
    );
    s.poll_once(&tx, &CancellationToken::new())
        .await
        .expect("polls");
    let first = &server.received_requests().await.expect("recorded")[0];
    assert!(first
        .url
        .query_pairs()
        .any(|(k, v)| k == "since_id" && v == "25"));
}

#[tokio::test]
async fn recent_search_waits_out_a_429_and_stops_on_401() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-reset", "0")
                .set_body_json(json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(Pages)
        .mount(&server)
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let mut s = Search::new(
        &cfg(&server.uri()),
        SecretString::from("tok"),
        vec!["q".into()],
        &HashMap::new(),
        fast(),
        budget(),
    );
    s.poll_once(&tx, &CancellationToken::new())
        .await
        .expect("polls after the 429");
    assert_eq!(drain(&mut rx).await.len(), 2);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})))
        .mount(&server)
        .await;
    let mut s = Search::new(
        &cfg(&server.uri()),
        SecretString::from("tok"),
        vec!["q".into()],
        &HashMap::new(),
        fast(),
        budget(),
    );
    let err = s
        .poll_once(&tx, &CancellationToken::new())
        .await
        .expect_err("401");
    assert!(
        err.to_string()
            .contains("X API refused the credentials (HTTP 401)"),
        "{err}"
    );
}

#[tokio::test]
async fn the_stream_syncs_its_rules_reads_lines_and_reconnects_after_a_drop() {
    // Arrange: one stale rule, one to keep; a stream body with keep-alives and bad lines.
    let server = MockServer::start().await;
    let keep = "(SNCF) -is:retweet";
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/stream/rules"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": "1", "value": "old rule"}, {"id": "2", "value": keep}], "meta": {"result_count": 2}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets/search/stream/rules"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"meta": {"summary": {}}})))
        .mount(&server)
        .await;
    let line = |id: &str| {
        json!({"data": tweet(id, "@SNCF encore"), "includes": {"users": [{"id": "1", "username": "bob"}]}, "matching_rules": [{"id": "2", "tag": "veille"}]}).to_string()
    };
    let body = format!(
        "{}\r\n\r\n\r\nnot json\r\n{}\r\n{{\"data\":{{\"id\":\"x\"}}}}\r\n",
        line("100"),
        line("101")
    );
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/stream"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let cancel = CancellationToken::new();
    let stream = Stream::new(
        &cfg(&server.uri()),
        SecretString::from("tok"),
        vec![keep.into(), "(Paris) -is:retweet".into()],
        fast(),
        budget(),
    );
    // Act: read until the body was served twice (one drop, one reconnection).
    let task = tokio::spawn(stream.run(tx, cancel.clone()));
    let mut posts = Vec::new();
    let mut bad = Vec::new();
    while posts.len() < 4 {
        let b = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a batch in time")
            .expect("open");
        posts.extend(b.posts.into_iter().map(|p| p.id));
        bad.extend(b.bad.into_iter().map(|b| b.kind));
    }
    cancel.cancel();
    task.await.expect("joins").expect("no fatal error");
    // Assert
    assert_eq!(posts, ["100", "101", "100", "101"]);
    assert!(
        bad.contains(&"not a stream line") && bad.contains(&"malformed tweet"),
        "{bad:?}"
    );
    let requests = server.received_requests().await.expect("recorded");
    let posts_bodies: Vec<String> = requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(posts_bodies.len(), 2);
    assert!(
        posts_bodies[0].contains(r#""delete":{"ids":["1"]}"#),
        "{posts_bodies:?}"
    );
    assert!(
        posts_bodies[1].contains("(Paris) -is:retweet") && !posts_bodies[1].contains("SNCF"),
        "{posts_bodies:?}"
    );
}

/// Serves the first page, then fails on the second with a 503 every time.
struct FailingSecondPage;

impl Respond for FailingSecondPage {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.query_pairs().any(|(k, _)| k == "next_token") {
            return ResponseTemplate::new(503);
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "data": [tweet("30", "@SNCF une honte")],
            "meta": {"newest_id": "30", "oldest_id": "30", "result_count": 1, "next_token": "t2"}}))
    }
}

#[tokio::test]
async fn a_transient_failure_on_a_later_page_does_not_move_since_id() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .respond_with(FailingSecondPage)
        .mount(&server)
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let cancel = CancellationToken::new();
    let mut s = Search::new(
        &cfg(&server.uri()),
        SecretString::from("tok"),
        vec!["(SNCF) -is:retweet".into()],
        &HashMap::new(),
        fast(),
        budget(),
    );
    // Act: two polls, page 2 failing both times.
    s.poll_once(&tx, &cancel).await.expect("polls");
    s.poll_once(&tx, &cancel).await.expect("polls again");
    // Assert
    let batches = drain(&mut rx).await;
    assert!(
        batches.iter().all(|b| b.cursor.is_none()),
        "no cursor is stored past a page never read"
    );
    let requests = server.received_requests().await.expect("recorded");
    assert!(
        requests
            .iter()
            .all(|r| !r.url.query_pairs().any(|(k, _)| k == "since_id")),
        "the second poll starts again from the first page's start, not past page 2"
    );
}

/// Answers each page with as many tweets as `max_results` asks, always with a next page.
struct AsMany;

impl Respond for AsMany {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "max_results")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(10);
        let data: Vec<serde_json::Value> = (0..n)
            .map(|i| tweet(&format!("{}", 1000 + i), "@SNCF encore"))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "data": data, "meta": {"newest_id": "2000", "result_count": n, "next_token": "more"}}))
    }
}

#[tokio::test]
async fn recent_search_reads_no_more_than_the_day_allows() {
    // Arrange: 150 posts a day allowed, 120 read already today.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .respond_with(AsMany)
        .mount(&server)
        .await;
    let x = XConfig {
        max_reads_per_day: 150,
        ..cfg(&server.uri())
    };
    let budget = std::sync::Arc::new(Budget::new(&x, 120, None));
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let mut s = Search::new(
        &x,
        SecretString::from("tok"),
        vec!["(SNCF)".into(), "(Orange)".into()],
        &HashMap::new(),
        fast(),
        budget.clone(),
    );
    // Act
    s.poll_once(&tx, &CancellationToken::new())
        .await
        .expect("polls");
    drop(tx);
    let batches = drain(&mut rx).await;
    // Assert: one page of 30, billed; nothing more, whatever the next tokens say.
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "no page past the budget");
    let asked = requests[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "max_results")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        asked.as_deref(),
        Some("30"),
        "the last page no larger than what is left"
    );
    assert_eq!(batches.iter().map(|b| b.billed).sum::<u64>(), 30);
    let bill = budget.bill();
    assert_eq!((bill.read, bill.paused), (150, true));
    assert!((bill.cost - 0.75).abs() < 1e-9, "{}", bill.cost);
    assert_eq!(budget.remaining(), 0);
}

#[tokio::test]
async fn the_stream_closes_once_the_day_s_reads_are_spent() {
    // Arrange: a stream of five posts, three allowed.
    let server = MockServer::start().await;
    let lines: String = (0..5)
        .map(|i| {
            format!(
                "{}\r\n",
                json!({"data": tweet(&format!("{i}"), "@SNCF encore"), "includes": {"users": [{"id": "1", "username": "bob"}]}})
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/stream"))
        .respond_with(ResponseTemplate::new(200).set_body_string(lines))
        .mount(&server)
        .await;
    let x = XConfig {
        max_reads_per_day: 3,
        ..cfg(&server.uri())
    };
    let budget = Budget::new(&x, 0, None);
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let resp = reqwest::get(format!("{}/2/tweets/search/stream", server.uri()))
        .await
        .expect("connects");
    // Act
    let end = read_stream(resp, &tx, &CancellationToken::new(), &budget).await;
    drop(tx);
    // Assert
    assert!(matches!(end, Read::Spent), "closed, not dropped");
    let batches = drain(&mut rx).await;
    assert_eq!(
        batches.iter().map(|b| b.billed).sum::<u64>(),
        5,
        "what was read is billed"
    );
    assert!(budget.bill().paused);
}
