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
        use rand::SeedableRng;
        use std::hash::{BuildHasher, Hasher};
        // std's hasher keys are random per process and per instance: seed enough for jitter.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Backoff {
            base,
            cap,
            failures: 0,
            rng: rand::rngs::SmallRng::seed_from_u64(seed),
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

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

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
