//! Bad-buzz alerts through the real binary: a simulated stream with known bursts, replayed
//! with the detector on.

use std::path::Path;
use std::process::{Command, Output};

fn veille(args: &[&str], store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(args)
        .env("VEILLE_STORE__PATH", store)
        .env("VEILLE_RANK__DEMO_DATA", "false")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("veille runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn replay_with_alerts_opens_and_closes_each_burst_once_and_a_second_replay_repeats_nothing() {
    // Arrange: four days of three names, each with one burst of five times its criticism.
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = dir.path().join("sim");
    let store = dir.path().join("store");
    let sim_s = sim.to_str().expect("utf-8");
    ok(&veille(
        &[
            "simulate",
            "--out",
            sim_s,
            "--days",
            "4",
            "--scale",
            "0.25",
            "--factors",
            "5",
        ],
        &store,
    ));
    let posts = sim.join("posts.jsonl");
    let watch = sim.join("watch.toml");
    let args = [
        "replay",
        "--alerts",
        "--watch",
        watch.to_str().expect("utf-8"),
        posts.to_str().expect("utf-8"),
    ];
    // Act
    let out = ok(&veille(&args, &store));
    // Assert: one JSON line per event, in the documented shape.
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let truth: Vec<serde_json::Value> = std::fs::read_to_string(sim.join("truth.jsonl"))
        .expect("truth")
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth line"))
        .collect();
    assert_eq!(truth.len(), 3);
    for e in &events {
        for field in [
            "entity",
            "event",
            "at",
            "window_start",
            "window_end",
            "mentions",
            "critical",
            "baseline_critical",
            "p_value",
            "top_cues",
            "posts",
        ] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at")).expect("RFC 3339");
    }
    for t in &truth {
        let name = t["entity"].as_str().expect("entity");
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e["entity"] == name)
            .map(|e| e["event"].as_str().expect("event"))
            .collect();
        assert_eq!(kinds, ["open", "close"], "{name}: {out}");
        let open = events
            .iter()
            .find(|e| e["entity"] == name && e["event"] == "open")
            .expect("open");
        let (at, start, end) = (
            open["at"].as_str().expect("at"),
            t["start"].as_str().expect("start"),
            t["end"].as_str().expect("end"),
        );
        assert!(
            start <= at && at <= end,
            "{name} opened at {at}, burst {start}–{end}"
        );
        assert!(open["critical"].as_u64().expect("critical") >= 10);
        assert!(!open["posts"].as_array().expect("posts").is_empty());
    }
    // `buzz` shows the name's series and writes its chart.
    let png = dir.path().join("sncf.png");
    let buzz = ok(&veille(
        &[
            "buzz",
            "SNCF",
            "--since",
            "2026-03-04T00:00:00Z",
            "--png",
            png.to_str().expect("utf-8"),
        ],
        &store,
    ));
    assert!(buzz.contains("SNCF —") && buzz.contains('▲'), "{buzz}");
    let bytes = std::fs::read(&png).expect("chart written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // A second replay of the same file counts nothing twice and alerts nothing twice.
    let again = ok(&veille(
        &[&args[..2], &["--from-start"], &args[2..]].concat(),
        &store,
    ));
    assert!(again.trim().is_empty(), "{again}");
    // An unknown name is a clear error.
    let unknown = veille(&["buzz", "Nantes"], &store);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a watched name"));
}
