use super::*;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn fast() -> Retry {
    Retry::fast()
}

fn sources(base: &str) -> SourcesConfig {
    let mut s = SourcesConfig::default();
    s.x.base_url = base.to_string();
    s.bluesky.api_url = base.to_string();
    s.instagram.base_url = base.to_string();
    s.instagram.user_id = Some("1789".into());
    s
}

fn targets(n: usize) -> Vec<Target> {
    (0..n)
        .map(|i| Target {
            key: format!("acc{i}"),
            handle: format!("Acc{i}"),
        })
        .collect()
}

fn tokens() -> Tokens {
    Tokens {
        x: Some(SecretString::from("xtoken")),
        instagram: Some(SecretString::from("igtoken")),
        ..Tokens::default()
    }
}

fn june() -> Month {
    Month::new(2021, 6).expect("month")
}

/// Answers X user lookups from the `usernames` asked, knowing every account but `acc7`.
struct XFake;

impl Respond for XFake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let names = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "usernames")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let (known, unknown): (Vec<&str>, Vec<&str>) = names.split(',').partition(|n| *n != "Acc7");
        let data: Vec<_> = known
            .iter()
            .map(|n| json!({"id": "1", "name": n, "username": n.to_lowercase(), "public_metrics": {"followers_count": 1000, "following_count": 10, "tweet_count": 5000, "listed_count": 3}}))
            .collect();
        let errors: Vec<_> = unknown
            .iter()
            .map(|n| json!({"value": n, "detail": format!("Could not find user with usernames: [{n}]."), "title": "Not Found Error", "resource_type": "user", "parameter": "usernames"}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "errors": errors}))
    }
}

#[tokio::test]
async fn x_lookups_go_by_batches_of_100_and_report_missing_accounts() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/by"))
        .and(query_param("user.fields", "public_metrics"))
        .and(wiremock::matchers::header("authorization", "Bearer xtoken"))
        .respond_with(XFake)
        .expect(2)
        .mount(&server)
        .await;
    // Act
    let got = collect(
        Platform::Twitter,
        &targets(120),
        &sources(&server.uri()),
        &tokens(),
        june(),
        &fast(),
        &mut |_| {},
    )
    .await
    .expect("collected");
    // Assert
    assert_eq!(got.snapshots.len(), 119);
    assert_eq!(got.missing, ["Acc7"]);
    let (key, snap) = &got.snapshots[0];
    assert_eq!(key, "acc0");
    assert_eq!(
        (snap.followers, snap.following, snap.posts_total),
        (Some(1000), Some(10), Some(5000))
    );
}

#[tokio::test]
async fn x_waits_out_a_429_and_stops_on_a_401() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("x-rate-limit-reset", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(XFake)
        .mount(&server)
        .await;
    let got = collect(
        Platform::Twitter,
        &targets(3),
        &sources(&server.uri()),
        &tokens(),
        june(),
        &fast(),
        &mut |_| {},
    )
    .await
    .expect("collected after the 429");
    assert_eq!(got.snapshots.len(), 3);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})))
        .mount(&server)
        .await;
    let err = collect(
        Platform::Twitter,
        &targets(3),
        &sources(&server.uri()),
        &tokens(),
        june(),
        &fast(),
        &mut |_| {},
    )
    .await
    .expect_err("401");
    assert!(
        matches!(err, CollectError::Http(HttpError::Auth { status: 401, .. })),
        "{err}"
    );
    assert!(!err.to_string().contains("xtoken"));
}

#[tokio::test]
async fn a_missing_token_is_reported_not_sent() {
    let err = collect(
        Platform::Twitter,
        &targets(1),
        &sources("http://127.0.0.1:9"),
        &Tokens::default(),
        june(),
        &fast(),
        &mut |_| {},
    )
    .await
    .expect_err("no token");
    assert_eq!(err.to_string(), "X_BEARER_TOKEN is not set");
}

/// Answers getProfiles for every actor asked but `acc3`.
struct BskyFake;

impl Respond for BskyFake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let profiles: Vec<_> = req
            .url
            .query_pairs()
            .filter(|(k, v)| k == "actors" && v != "Acc3")
            .map(|(_, v)| json!({"did": "did:plc:x", "handle": v.to_lowercase(), "followersCount": 42, "followsCount": 7, "postsCount": 300}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "profiles": profiles }))
    }
}

#[tokio::test]
async fn bluesky_profiles_go_by_batches_of_25() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.actor.getProfiles"))
        .respond_with(BskyFake)
        .expect(2)
        .mount(&server)
        .await;
    let got = collect(
        Platform::Bluesky,
        &targets(30),
        &sources(&server.uri()),
        &Tokens::default(),
        june(),
        &fast(),
        &mut |_| {},
    )
    .await
    .expect("collected");
    assert_eq!(got.snapshots.len(), 29);
    assert_eq!(got.missing, ["Acc3"]);
    assert_eq!(got.snapshots[0].1.posts_total, Some(300));
}

#[tokio::test]
async fn instagram_business_discovery_counts_the_months_posts_and_reports_unknown_accounts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v25.0/1789"))
        .and(query_param("access_token", "igtoken"))
        .and(query_param(
            "fields",
            "business_discovery.username(Acc0){followers_count,follows_count,media_count,media{like_count,comments_count,timestamp}}",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "business_discovery": {
                "followers_count": 15000, "follows_count": 300, "media_count": 900, "id": "1",
                "media": {"data": [
                    {"like_count": 500, "comments_count": 20, "timestamp": "2021-06-30T18:00:00+0000", "id": "a"},
                    {"like_count": 300, "comments_count": 10, "timestamp": "2021-06-02T08:00:00+0000", "id": "b"},
                    {"like_count": 999, "comments_count": 99, "timestamp": "2021-05-31T08:00:00+0000", "id": "c"}
                ]}
            },
            "id": "1789"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v25.0/1789"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Invalid user id", "type": "OAuthException", "code": 110, "error_subcode": 2207013}})))
        .mount(&server)
        .await;
    let got = instagram_from(&server, 2).await.expect("collected");
    assert_eq!(got.missing, ["Acc1"]);
    let s = &got.snapshots[0].1;
    assert_eq!(
        (s.followers, s.following, s.posts_total),
        (Some(15_000), Some(300), Some(900))
    );
    assert_eq!((s.posts_month, s.interactions_month), (Some(2), Some(830)));
}

/// Collects `n` Instagram accounts from `server`.
async fn instagram_from(server: &MockServer, n: usize) -> Result<Collected, CollectError> {
    collect(
        Platform::Instagram,
        &targets(n),
        &sources(&server.uri()),
        &tokens(),
        june(),
        &fast(),
        &mut |_| {},
    )
    .await
}

/// A Graph API 400 with `code`, for every request.
async fn graph_400(code: i64, message: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"message": message, "type": "OAuthException", "code": code, "error_subcode": 463, "fbtrace_id": "A"}}),
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_expired_instagram_token_stops_at_the_first_request_and_names_the_token() {
    let server = graph_400(190, "Error validating access token: Session has expired").await;
    let err = instagram_from(&server, 18)
        .await
        .expect_err("an expired token is not 18 missing accounts");
    let text = err.to_string();
    assert!(
        text.contains("INSTAGRAM_ACCESS_TOKEN") && text.contains("renew"),
        "{text}"
    );
    assert!(
        !text.contains("igtoken"),
        "the token's value never shows: {text}"
    );
    assert_eq!(server.received_requests().await.expect("recorded").len(), 1);
}

#[tokio::test]
async fn a_wrong_own_instagram_id_names_the_setting() {
    let server = graph_400(
        100,
        "Unsupported get request. Object with ID '1789' does not exist",
    )
    .await;
    let err = instagram_from(&server, 3)
        .await
        .expect_err("a wrong id stops");
    let text = err.to_string();
    assert!(
        text.contains("VEILLE_SOURCES__INSTAGRAM__USER_ID") && text.contains("1789"),
        "{text}"
    );
    assert_eq!(server.received_requests().await.expect("recorded").len(), 1);
}

#[test]
#[allow(clippy::result_large_err)]
fn an_id_from_the_environment_reaches_the_graph_api() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v25.0/17841400000000042"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "business_discovery": {"followers_count": 1, "media_count": 2, "id": "1"}, "id": "x"})))
            .mount(&server)
            .await;
        server
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("VEILLE_SOURCES__INSTAGRAM__USER_ID", "17841400000000042");
        jail.set_env("VEILLE_SOURCES__INSTAGRAM__BASE_URL", server.uri());
        let config = crate::config::Config::load_from(
            std::path::Path::new("."),
            None,
            figment::providers::Env::prefixed("VEILLE_").split("__"),
        )
        .expect("config");
        let got = rt
            .block_on(collect(
                Platform::Instagram,
                &targets(1),
                &config.sources,
                &tokens(),
                june(),
                &fast(),
                &mut |_| {},
            ))
            .expect("collected through the id from the environment");
        assert_eq!(got.snapshots.len(), 1);
        Ok(())
    });
}

#[test]
fn the_next_run_is_the_first_of_the_month_in_paris() {
    let cfg = CollectConfig::default();
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("date")
            .with_timezone(&Utc)
    };
    // Winter: 06:00 in Paris is 05:00 UTC.
    assert_eq!(
        next_run(at("2026-11-22T10:00:00Z"), &cfg).expect("next"),
        at("2026-12-01T05:00:00Z")
    );
    // On the day, after the hour: next month.
    assert_eq!(
        next_run(at("2026-12-01T05:00:00Z"), &cfg).expect("next"),
        at("2027-01-01T05:00:00Z")
    );
    // Summer: 06:00 in Paris is 04:00 UTC.
    assert_eq!(
        next_run(at("2026-06-15T00:00:00Z"), &cfg).expect("next"),
        at("2026-07-01T04:00:00Z")
    );
}

#[test]
fn targets_cover_the_catalogue_once_per_handle() {
    let catalog = Catalog::bundled();
    let x = targets_of(&catalog, Platform::Twitter);
    assert_eq!(x.len(), 30);
    let ig = targets_of(&catalog, Platform::Instagram);
    assert!(ig.iter().any(|t| t.handle == "gersledepartement"));
}

fn targets_of(catalog: &Catalog, p: Platform) -> Vec<Target> {
    super::targets(catalog, p)
}
