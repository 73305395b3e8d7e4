use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/feeds/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("a fixture")
}

fn read(name: &str, url: &str) -> Vec<Post> {
    let feed = parse(&fixture(name), url).expect("parses");
    posts(&feed, now())
}

fn now() -> DateTime<Utc> {
    "2025-06-05T12:00:00Z".parse().expect("a time")
}

#[test]
fn rss_2_items_become_posts_with_their_guid_link_date_author_and_plain_text() {
    let p = read("rss2.xml", "https://www.ladepeche.fr/rss.xml");
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].platform, "web");
    assert_eq!(p[0].id, "ldp-12345", "the guid");
    assert_eq!(
        p[0].url.as_deref(),
        Some("https://www.ladepeche.fr/2025/06/03/piscine.html")
    );
    assert_eq!(
        p[0].dedup_key(),
        "web:https://www.ladepeche.fr/2025/06/03/piscine.html",
        "the same link in another feed is the same post"
    );
    assert_eq!(p[0].created_at.to_rfc3339(), "2025-06-03T07:39:21+00:00");
    assert_eq!(
        p[0].text,
        "Toulouse : la piscine Nakache fermée, les usagers dénoncent un « scandale »\nLa mairie de Toulouse ferme la piscine : les usagers sont furieux."
    );
    assert_eq!(p[0].lang.as_deref(), Some("fr"));
    // No day name, GMT; HTML entities in an escaped description.
    assert_eq!(p[1].created_at.to_rfc3339(), "2025-06-02T18:00:00+00:00");
    assert!(
        p[1].text
            .ends_with("Le public était au rendez-vous & ravi."),
        "{}",
        p[1].text
    );
    assert_eq!(
        p[1].author.as_deref(),
        Some("La Dépêche du Midi — Toulouse"),
        "the feed's title when the item names no author"
    );
    // No date, no link: dated when first seen, its id a hash of its title and date.
    assert_eq!(p[2].created_at, now());
    assert_eq!(p[2].url, None);
    assert_eq!(p[2].id.len(), 16, "{}", p[2].id);
}

#[test]
fn rss_1_rss_0_91_atom_and_json_feed_parse() {
    let rss1 = read("rss1.xml", "https://example.org/rss");
    assert_eq!(rss1.len(), 1);
    assert_eq!(rss1[0].created_at.to_rfc3339(), "2025-05-20T05:30:00+00:00");
    assert!(rss1[0].text.starts_with("SNCF : encore un train supprimé"));

    let old = read("rss091.xml", "http://example.net/rss");
    assert_eq!(old[0].url.as_deref(), Some("http://example.net/panne"));

    let atom = read("atom.xml", "https://www.google.com/alerts/feeds/1/2");
    assert_eq!(atom.len(), 2);
    assert_eq!(
        atom[0].url.as_deref(),
        Some("https://www.google.com/url?q=https://www.sudouest.fr/gers/routes"),
        "a relative link resolves against xml:base"
    );
    assert_eq!(
        atom[0].created_at.to_rfc3339(),
        "2025-06-03T08:15:00+00:00",
        "published before updated"
    );
    assert!(
        atom[0].text.starts_with("Le Gers d'en haut : les routes"),
        "{}",
        atom[0].text
    );
    assert_eq!(atom[1].created_at.to_rfc3339(), "2025-06-02T08:00:00+00:00");

    let json = read("jsonfeed.json", "https://example.com/feed.json");
    assert_eq!(json.len(), 2);
    assert_eq!(json[0].id, "json-1");
    assert_eq!(json[0].author.as_deref(), Some("Alice"));
    assert!(
        json[0]
            .text
            .contains("Mon vol annulé, toujours pas remboursé."),
        "{}",
        json[0].text
    );
    assert_eq!(json[1].text, "Merci à Air France pour ce beau voyage.");
}

#[test]
fn the_encoding_the_prolog_declares_is_read() {
    let latin1 = read("latin1.xml", "https://example.fr/rss");
    assert!(
        latin1[0]
            .text
            .starts_with("Besançon : l'éclairage public en panne"),
        "{}",
        latin1[0].text
    );
    assert!(latin1[0].text.contains("Déçus"));
    let cp1252 = read("cp1252.xml", "https://example.fr/rss");
    assert!(
        cp1252[0]
            .text
            .contains("l’entreprise facture 30 € de frais… colère"),
        "{}",
        cp1252[0].text
    );
    assert!(cp1252[0].text.contains("« Inadmissible »"));
    assert_eq!(
        cp1252[0].created_at.to_rfc3339(),
        "2025-06-02T10:00:00+00:00"
    );
}

#[test]
fn a_malformed_feed_and_an_entity_bomb_are_refused() {
    let e = parse(&fixture("malformed.xml"), "https://x/").expect_err("malformed");
    assert!(matches!(e, FetchError::Malformed(_)), "{e}");
    let e = parse(&fixture("bomb.xml"), "https://x/").expect_err("a bomb");
    assert!(e.to_string().contains("XML entities"), "{e}");
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
    let later = (Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
    let d = retry_after(&later).expect("a date");
    assert!((85..=90).contains(&d.as_secs()), "{d:?}");
    assert_eq!(retry_after("soon"), None);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused_before_it_is_followed() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // Arrange: in this test 127.0.0.1 stands for a public site; 127.0.0.2 stays private.
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(path("/feed"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("http://127.0.0.2:{port}/internal").as_str(),
        ))
        .mount(&server)
        .await;
    let fetcher = Fetcher::with_rule(&FeedsConfig::default(), |ip| {
        ip == std::net::IpAddr::from([127, 0, 0, 1]) || http::is_public(ip)
    });
    // Act
    let err = fetcher
        .fetch(
            &format!("http://127.0.0.1:{port}/feed"),
            true,
            &Validators::default(),
        )
        .await
        .expect_err("refused");
    // Assert
    assert!(matches!(err, FetchError::Refused(_)), "{err}");
    let paths: Vec<String> = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(paths, ["/feed"], "the private address was never asked");
}

#[test]
fn a_failed_poll_waits_what_the_site_asked_or_backs_off() {
    let interval = Duration::from_secs(900);
    let mut rng = http::jitter_rng();
    let mut backoff = Backoff::new(Duration::from_secs(60), interval);
    let mut wait = |e: FetchError| wait_after(&e, &mut backoff, interval, &mut rng);
    let asked = FetchError::RetryAfter {
        status: 429,
        wait: Some(Duration::from_secs(3600)),
    };
    assert_eq!(
        wait(asked),
        Duration::from_secs(3600),
        "Retry-After is honoured"
    );
    let first = wait(FetchError::Status(503));
    let second = wait(FetchError::Network("reset".into()));
    assert!((60..90).contains(&first.as_secs()), "{first:?}");
    assert!((120..180).contains(&second.as_secs()), "{second:?}");
    let own = wait(FetchError::Status(404));
    assert!(
        (810..=990).contains(&own.as_secs()),
        "the usual interval: {own:?}"
    );
}

#[test]
fn dates_read_as_feeds_write_them() {
    let utc = |s: &str| timestamp(s).map(|t| t.to_rfc3339());
    let want = Some("2025-06-03T07:39:21+00:00".to_string());
    assert_eq!(utc("Tue, 03 Jun 2025 09:39:21 +0200"), want);
    assert_eq!(utc("03 Jun 2025 09:39:21 +0200"), want);
    assert_eq!(utc("Tue, 3 Jun 2025 07:39:21 GMT"), want);
    assert_eq!(utc("Tue, 03 Jun 2025 09:39:21 CEST"), want);
    assert_eq!(utc("2025-06-03T09:39:21+02:00"), want);
    assert_eq!(utc("2025-06-03T07:39:21Z"), want);
    assert_eq!(utc("2025-06-03T07:39:21.000Z"), want);
    assert_eq!(utc("2025-06-03 07:39:21"), want, "no zone: UTC");
    assert_eq!(
        utc("2025-06-03"),
        Some("2025-06-03T00:00:00+00:00".to_string())
    );
    assert_eq!(utc("hier"), None);
}
