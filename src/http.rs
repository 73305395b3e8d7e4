//! HTTP plumbing shared by every client of an outside service (the ranking collectors now, the
//! post sources next): one client, JSON GETs with the retry policy the services document.
//!
//! - 429: wait until `x-rate-limit-reset` (epoch seconds, X) or `Retry-After` (seconds), capped
//!   by [`Retry::max_wait`], then try again;
//! - 5xx and dropped connections: capped exponential backoff with jitter;
//! - 401/403: [`HttpError::Auth`], final: the credentials are wrong;
//! - other 4xx: [`HttpError::Status`] with the body, for the caller to read.
//!
//! URLs are never logged nor put in errors: Instagram's carries its access token.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// The longest wait for a rate limit to reset.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(64),
            max_wait: Duration::from_secs(15 * 60),
        }
    }
}

impl Retry {
    /// Three quick attempts and millisecond waits, for tests against local fakes.
    #[cfg(test)]
    pub(crate) fn fast() -> Retry {
        Retry {
            attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_wait: Duration::from_millis(20),
        }
    }

    /// A fresh backoff for one request's attempts.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.base, self.cap)
    }
}

/// A random number generator for jitter, seeded differently in each process and each call
/// (std's hasher keys are random: enough for spreading retries, not for secrets).
pub fn jitter_rng() -> rand::rngs::SmallRng {
    use rand::SeedableRng;
    use std::hash::{BuildHasher, Hasher};
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    rand::rngs::SmallRng::seed_from_u64(seed)
}

/// Capped exponential backoff with jitter: every retry loop in Veille waits with one (the
/// HTTP clients, the sources' reconnections, the Discord poster). Each wait doubles from
/// `base` up to `cap`, plus up to 50% at random, so that clients that failed together do not
/// retry together; [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
    rng: rand::rngs::SmallRng,
}

impl Backoff {
    /// From `base`, doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            failures: 0,
            rng: jitter_rng(),
        }
    }

    /// The next wait: `base × 2^failures`, capped, plus up to 50% jitter.
    pub fn next_wait(&mut self) -> Duration {
        use rand::Rng;
        let wait = self
            .base
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.cap);
        self.failures = self.failures.saturating_add(1);
        wait.mul_f64(1.0 + self.rng.gen_range(0.0..0.5))
    }

    /// After a success: the next wait is `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// 401 or 403: the token is missing, wrong or lacks a permission.
    #[error("{service} refused the credentials (HTTP {status}): {detail}")]
    Auth {
        /// The service's name.
        service: String,
        /// The HTTP status.
        status: u16,
        /// What the service said.
        detail: String,
    },
    /// Another 4xx.
    #[error("{service} answered HTTP {status}: {body}")]
    Status {
        /// The service's name.
        service: String,
        /// The HTTP status.
        status: u16,
        /// The body it sent.
        body: String,
    },
    /// 2xx, but not the JSON expected.
    #[error("{service} sent an answer that could not be read: {detail}")]
    Malformed {
        /// The service's name.
        service: String,
        /// The parse error.
        detail: String,
    },
    /// Rate limits, 5xx or network errors until the attempts ran out.
    #[error("{service} did not answer after {attempts} attempts: {last}")]
    Exhausted {
        /// The service's name.
        service: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// Builds the shared client.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("veille/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .build()
        .expect("a client with a timeout and a user agent builds")
}

/// GETs JSON with the retry policy. `request` builds the request afresh for every attempt.
pub async fn get_json<T: DeserializeOwned>(
    service: &str,
    retry: &Retry,
    request: impl Fn() -> RequestBuilder,
) -> Result<T, HttpError> {
    let resp = send(service, retry, request).await?;
    let bytes = resp.bytes().await.map_err(|e| HttpError::Malformed {
        service: service.to_string(),
        detail: e.without_url().to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| HttpError::Malformed {
        service: service.to_string(),
        detail: e.to_string(),
    })
}

/// Sends with the retry policy; returns the first 2xx response.
pub async fn send(
    service: &str,
    retry: &Retry,
    request: impl Fn() -> RequestBuilder,
) -> Result<Response, HttpError> {
    let mut last = String::new();
    let mut backoff = retry.backoff();
    for attempt in 1..=retry.attempts.max(1) {
        if attempt > 1 {
            tracing::debug!(service, attempt, "retrying");
        }
        let wait = match request().send().await {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status();
                let wait = rate_limit_wait(&resp);
                let body = resp.text().await.unwrap_or_default();
                let detail = short(&body);
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(HttpError::Auth {
                        service: service.to_string(),
                        status: status.as_u16(),
                        detail,
                    });
                }
                if status == StatusCode::TOO_MANY_REQUESTS {
                    last = format!("HTTP 429 {detail}");
                    tracing::warn!(service, attempt, "rate limited; waiting for the reset");
                    wait.unwrap_or_else(|| backoff.next_wait())
                        .min(retry.max_wait)
                } else if status.is_server_error() {
                    last = format!("HTTP {} {detail}", status.as_u16());
                    tracing::warn!(
                        service,
                        attempt,
                        status = status.as_u16(),
                        "server error; backing off"
                    );
                    backoff.next_wait()
                } else {
                    return Err(HttpError::Status {
                        service: service.to_string(),
                        status: status.as_u16(),
                        body,
                    });
                }
            }
            Err(e) => {
                last = e.without_url().to_string();
                tracing::warn!(service, attempt, error = %last, "request failed; backing off");
                backoff.next_wait()
            }
        };
        if attempt < retry.attempts {
            tokio::time::sleep(wait).await;
        }
    }
    Err(HttpError::Exhausted {
        service: service.to_string(),
        attempts: retry.attempts,
        last,
    })
}

/// How long a 429 asks to wait: X's `x-rate-limit-reset` (epoch seconds) or `Retry-After`.
fn rate_limit_wait(resp: &Response) -> Option<Duration> {
    let header = |name: &str| {
        resp.headers()
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    if let Some(reset) = header("x-rate-limit-reset") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    header("retry-after").map(Duration::from_secs)
}

/// The first line of a body, at most 200 characters, for messages.
fn short(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// The Graph API's error object (Instagram): `{"error": {"message", "type", "code",
/// "error_subcode"}}`. Its `code` says why: 190 a token expired or revoked, 100 a wrong
/// parameter (the own account's id), 110 an account it cannot find, 10 a permission the
/// token lacks, 4, 17 and 32 rate limits.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct GraphError {
    /// What the API said.
    #[serde(default)]
    pub message: String,
    /// The error's code.
    pub code: i64,
    /// Its subcode.
    #[serde(default)]
    pub error_subcode: Option<i64>,
}

/// The Graph API's error object in a body, if it holds one.
pub fn graph_error(body: &str) -> Option<GraphError> {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        error: GraphError,
    }
    serde_json::from_str::<Wrapper>(body).ok().map(|w| w.error)
}

/// Whether `ip` is a public address: not loopback, private, link-local (cloud metadata
/// services live there), unique-local, shared (CGNAT), unspecified, broadcast, multicast,
/// documentation or benchmarking, nor an IPv6 form of one of those.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// Why an address a user gave is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressRefused {
    /// Not http or https.
    #[error("only http and https addresses are followed")]
    Scheme,
    /// The host is missing or does not resolve.
    #[error("the host does not resolve")]
    Unresolved,
    /// It names or resolves to a private, loopback or link-local address.
    #[error("the address is not public")]
    NotPublic,
}

/// Checks the scheme of `url`, and that its host, when it is an address, is public (a host
/// name is checked when it resolves, by [`PublicOnly`]).
pub fn check_url(url: &reqwest::Url) -> Result<(), AddressRefused> {
    check_url_with(url, is_public)
}

/// [`check_url`] with another rule for which addresses are allowed.
pub fn check_url_with(
    url: &reqwest::Url,
    allowed: fn(std::net::IpAddr) -> bool,
) -> Result<(), AddressRefused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AddressRefused::Scheme);
    }
    match url.host() {
        None => Err(AddressRefused::Unresolved),
        Some(url::Host::Ipv4(ip)) if !allowed(ip.into()) => Err(AddressRefused::NotPublic),
        Some(url::Host::Ipv6(ip)) if !allowed(ip.into()) => Err(AddressRefused::NotPublic),
        Some(_) => Ok(()),
    }
}

/// A DNS resolver that gives only public addresses: a host name that resolves to none is
/// refused, so a user's URL can never make Veille reach an intranet or a cloud metadata
/// service, at the first request or at any redirect. (Its rule is [`is_public`]; the tests
/// of what uses it may bring another.)
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly(pub fn(std::net::IpAddr) -> bool);

impl Default for PublicOnly {
    fn default() -> Self {
        PublicOnly(is_public)
    }
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allowed = self.0;
        Box::pin(async move {
            let all: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> =
                all.into_iter().filter(|a| allowed(a.ip())).collect();
            if public.is_empty() {
                return Err(
                    Box::new(AddressRefused::NotPublic) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            let ip: std::net::IpAddr = private.parse().expect("an address");
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "1.1.1.1",
        ] {
            let ip: std::net::IpAddr = public.parse().expect("an address");
            assert!(is_public(ip), "{public} is public");
        }
        let url = |u: &str| reqwest::Url::parse(u).expect("a URL");
        assert_eq!(
            check_url(&url("file:///etc/passwd")),
            Err(AddressRefused::Scheme)
        );
        assert_eq!(
            check_url(&url("ftp://example.com/")),
            Err(AddressRefused::Scheme)
        );
        assert_eq!(
            check_url(&url("http://127.0.0.1:8080/feed")),
            Err(AddressRefused::NotPublic)
        );
        assert_eq!(
            check_url(&url("http://[::1]/feed")),
            Err(AddressRefused::NotPublic)
        );
        assert_eq!(
            check_url(&url("http://169.254.169.254/latest")),
            Err(AddressRefused::NotPublic)
        );
        assert_eq!(check_url(&url("https://example.com/rss")), Ok(()));
    }

    #[tokio::test]
    async fn a_host_that_resolves_to_loopback_is_refused() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().expect("a name");
        let err = PublicOnly::default()
            .resolve(name)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("not public"), "{err}");
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
        let waits: Vec<u64> = (0..5).map(|_| b.next_wait().as_millis() as u64).collect();
        assert!((1000..1500).contains(&waits[0]), "{waits:?}");
        assert!((2000..3000).contains(&waits[1]), "{waits:?}");
        assert!(
            waits[2..].iter().all(|w| (4000..6000).contains(w)),
            "{waits:?}"
        );
        b.reset();
        assert!(b.next_wait() < Duration::from_millis(1500));
        let spread: std::collections::BTreeSet<u128> = (0..20)
            .map(|_| {
                Backoff::new(Duration::from_secs(1), Duration::from_secs(1))
                    .next_wait()
                    .as_micros()
            })
            .collect();
        assert!(spread.len() > 10, "jittered apart: {spread:?}");
    }

    #[tokio::test]
    async fn a_429_then_success_is_retried() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/x"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("x-rate-limit-reset", "0")
                    .set_body_string(r#"{"title":"Too Many Requests","status":429}"#),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/x"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
            .mount(&server)
            .await;
        let c = client(Duration::from_secs(5));
        let v: serde_json::Value = get_json("test", &Retry::fast(), || {
            c.get(format!("{}/x", server.uri()))
        })
        .await
        .expect("second attempt succeeds");
        assert_eq!(v["ok"], true);
    }

    #[tokio::test]
    async fn a_401_is_final_and_names_the_cause() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_string(r#"{"title":"Unauthorized","status":401}"#),
            )
            .expect(1)
            .mount(&server)
            .await;
        let c = client(Duration::from_secs(5));
        let err = get_json::<serde_json::Value>("X API", &Retry::fast(), || c.get(server.uri()))
            .await
            .expect_err("401");
        assert!(matches!(err, HttpError::Auth { status: 401, .. }));
        assert!(
            err.to_string()
                .starts_with("X API refused the credentials (HTTP 401)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_given_up_without_the_url() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .expect(3)
            .mount(&server)
            .await;
        let c = client(Duration::from_secs(5));
        let err = get_json::<serde_json::Value>("svc", &Retry::fast(), || {
            c.get(format!("{}/?access_token=SECRET", server.uri()))
        })
        .await
        .expect_err("503s");
        assert!(matches!(err, HttpError::Exhausted { attempts: 3, .. }));
        assert!(!err.to_string().contains("SECRET"));
    }

    #[tokio::test]
    async fn a_dropped_connection_is_an_error_without_the_url() {
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let c = client(Duration::from_secs(2));
        let err = get_json::<serde_json::Value>("svc", &Retry::fast(), || {
            c.get(format!("http://127.0.0.1:{port}/?access_token=SECRET"))
        })
        .await
        .expect_err("nothing listens");
        assert!(matches!(err, HttpError::Exhausted { .. }));
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}
