//! Runs the real `veille` binary, as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn veille(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("VEILLE_STORE__PATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("veille starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin accepts the posts");
    child.wait_with_output().expect("veille ends")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

#[test]
fn classify_labels_each_line_and_reports_errors_in_place() {
    // Arrange
    let input = std::fs::read_to_string("tests/fixtures/posts.jsonl").expect("fixture");
    // Act
    let out = veille(
        &[
            "classify",
            "--watch",
            "tests/fixtures/watch.toml",
            "--summary",
        ],
        &input,
    );
    // Assert
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["id"], "p1");
    assert_eq!(lines[0]["label"], "critical");
    assert_eq!(lines[0]["mentions"], serde_json::json!(["Air France"]));
    assert!(
        lines[1]["mentions"]
            .as_array()
            .expect("mentions")
            .is_empty(),
        "Toulouse is not watched by this file"
    );
    assert!(lines[2]["error"].is_string());
    assert_eq!(lines[3]["id"], 4);
    assert_eq!(lines[4]["mentions"], serde_json::json!(["Angers"]));
    assert_eq!(lines[4]["label"], "neutral");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("naming a watched entity: 2 (50.0%; field figure: 1 in 5"),
        "{summary}"
    );
    assert!(
        summary.contains("critical among those: 1 (50.0%; field figure: 1 in 3"),
        "{summary}"
    );
}

#[test]
fn classify_reads_input_files_and_uses_the_config_names_by_default() {
    let out = veille(&["classify", "--input", "tests/fixtures/posts.jsonl"], "");
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(
        lines[1]["mentions"],
        serde_json::json!(["Toulouse"]),
        "the bundled config watches Toulouse"
    );
}

#[test]
fn classify_fails_only_when_input_cannot_be_read() {
    let out = veille(&["classify", "--input", "tests/fixtures/missing.jsonl"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
}

#[test]
fn a_broken_watch_file_is_a_clear_error() {
    let out = veille(&["classify", "--watch", "tests/fixtures/posts.jsonl"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("parsing watch file"));
}

#[test]
fn eval_prints_the_critical_class_figures() {
    let out = veille(&["eval", "tests/fixtures/labelled.jsonl"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("precision 1.000  recall 1.000  F1 1.000"),
        "{text}"
    );
    assert!(text.contains("confusion: tp 2  fp 0  fn 0  tn 2"), "{text}");
    assert!(text.contains("posts/s"), "{text}");
}

#[test]
fn no_subcommand_runs_the_demo() {
    let out = veille(&[], "");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("démo"), "{text}");
    assert!(text.contains("field figure: 1 in 5"), "{text}");
}
