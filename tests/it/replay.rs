//! `veille replay` end to end: resumable, deduplicated, and safe against kill -9.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn veille(store: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_veille"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VEILLE_STORE__PATH", store);
    cmd
}

fn run(store: &Path, args: &[&str]) -> Output {
    let out = veille(store, args).output().expect("veille runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` posts, one a second, one in four naming a watched name of the bundled config.
fn write_posts(path: &Path, n: usize) {
    write_posts_every(path, n, 1)
}

/// `n` posts, one every `step` seconds.
fn write_posts_every(path: &Path, n: usize, step: i64) {
    let texts = [
        "@SNCF train supprimé encore une fois, une honte",
        "Belle journée à Toulouse, merci @Toulouse",
        "Je prends un café avant le travail",
        "Réunion de quartier jeudi soir à la salle des fêtes",
        "Le métro de Lyon en panne, lamentable",
        "Rien de spécial aujourd'hui, il pleut",
        "Vol annulé par @airfrance, toujours pas remboursé",
        "Bon week-end à tous",
    ];
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..n {
        let at =
            chrono::DateTime::from_timestamp(1_700_000_000 + i as i64 * step, 0).expect("time");
        let line = serde_json::json!({"id": format!("p{i}"), "text": texts[i % texts.len()], "created_at": at.to_rfc3339()});
        writeln!(f, "{line}").expect("write");
    }
}

#[test]
fn replay_counts_each_post_once_across_runs_and_files() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("db");
    let posts = dir.path().join("posts.jsonl");
    write_posts(&posts, 800);
    let copy = dir.path().join("copy.jsonl");
    std::fs::copy(&posts, &copy).expect("copy");
    // Act
    let first = run(&store, &["replay", posts.to_str().expect("utf-8")]);
    let again = run(
        &store,
        &[
            "replay",
            posts.to_str().expect("utf-8"),
            copy.to_str().expect("utf-8"),
        ],
    );
    let stats = run(&store, &["stats"]);
    // Assert
    assert!(
        stdout(&first)
            .starts_with("800 posts read, 0 already stored, 400 new naming a watched entity"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&again).starts_with("800 posts read, 800 already stored, 0 new"),
        "the first file resumes at its end, the copy is all duplicates: {}",
        stdout(&again)
    );
    let s = stdout(&stats);
    assert!(s.contains("posts counted: 800"), "{s}");
    assert!(s.contains("naming a watched entity: 400 (50.0%"), "{s}");
    let sncf = run(&store, &["stats", "SNCF"]);
    assert!(stdout(&sncf).contains("total"), "{}", stdout(&sncf));
}

#[test]
fn kill_9_in_the_middle_of_a_replay_loses_nothing_and_counts_nothing_twice() {
    // Arrange: a file of ten batches (4,096 posts each), and a control run.
    let dir = tempfile::tempdir().expect("dir");
    let posts = dir.path().join("posts.jsonl");
    write_posts(&posts, 40_000);
    let control = dir.path().join("control");
    run(&control, &["replay", posts.to_str().expect("utf-8")]);
    let expected = stdout(&run(&control, &["stats"]));

    // Act: kill -9 once the replay committed its third batch, then run again to the end.
    let store = dir.path().join("db");
    let mut child = veille(&store, &["replay", posts.to_str().expect("utf-8")])
        .env("VEILLE_LOG", "veille::ingest=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("veille starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let commits = std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("batch committed"));
        for (n, _) in commits.enumerate() {
            if n + 1 == 3 {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the replay commits its third batch");
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(
        !status.success(),
        "the replay was killed before it finished"
    );
    let resumed = stdout(&run(&store, &["replay", posts.to_str().expect("utf-8")]));
    let after = stdout(&run(&store, &["stats"]));

    // Assert
    assert_eq!(
        after, expected,
        "same counts as an uninterrupted run; resumed: {resumed}"
    );
    assert!(expected.contains("posts counted: 40000"), "{expected}");
}

#[test]
fn a_long_file_replayed_again_from_the_start_counts_nothing_twice() {
    // Arrange: 10,000 posts over 6,667 minutes, more minutes than the seen cache holds (it
    // is emptied after the second batch of 4,096, and the third reads the store).
    let dir = tempfile::tempdir().expect("dir");
    let posts = dir.path().join("posts.jsonl");
    write_posts_every(&posts, 10_000, 40);
    let store = dir.path().join("db");
    run(&store, &["replay", posts.to_str().expect("utf-8")]);
    let once = stdout(&run(&store, &["stats"]));
    // Act
    let again = stdout(&run(
        &store,
        &["replay", "--from-start", posts.to_str().expect("utf-8")],
    ));
    let twice = stdout(&run(&store, &["stats"]));
    // Assert
    assert!(
        again.starts_with("10000 posts read, 10000 already stored, 0 new"),
        "{again}"
    );
    assert_eq!(twice, once);
    assert!(once.contains("posts counted: 10000"), "{once}");
}

#[test]
fn a_daily_export_replaced_under_the_same_name_is_read_whole_each_day() {
    // Arrange: day 1's export, then day 2's, shorter, under the same name, with a BOM.
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("db");
    let export = dir.path().join("export.jsonl");
    let day = |d: u32, n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "{{\"id\":\"d{d}-{i}\",\"text\":\"@SNCF retard numéro {i}\",\"created_at\":\"2024-05-0{d}T10:00:00Z\"}}\n"
                )
            })
            .collect()
    };
    std::fs::write(&export, day(1, 50)).expect("day 1");
    let first = stdout(&run(&store, &["replay", export.to_str().expect("utf-8")]));
    std::fs::write(&export, format!("\u{FEFF}{}", day(2, 30))).expect("day 2");
    // Act
    let second = stdout(&run(&store, &["replay", export.to_str().expect("utf-8")]));
    // Assert
    assert!(
        first.starts_with("50 posts read, 0 already stored, 50 new"),
        "{first}"
    );
    assert!(
        second.starts_with("30 posts read, 0 already stored, 30 new"),
        "the replaced file is read from its start, its first line included: {second}"
    );
}

#[test]
fn stats_on_a_store_that_does_not_exist_creates_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("typo.db");
    let out = stdout(&run(&store, &["stats"]));
    assert!(out.contains("is new and empty"), "{out}");
    assert!(!store.exists(), "no empty store was created");
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, posts) = (dir.path().join("db"), dir.path().join("posts.jsonl"));
    write_posts(&posts, 20_000);
    // Not a terminal: standard error holds no progress line.
    let out = run(&store, &["replay", posts.to_str().expect("utf-8")]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("posts/s"));
    assert!(
        stdout(&out).contains("20000 posts read"),
        "{}",
        stdout(&out)
    );
    // On a terminal (a pseudo-terminal from util-linux's `script`, when the machine has it).
    let Ok(probe) = Command::new("script").arg("--version").output() else {
        return;
    };
    if !probe.status.success() {
        return;
    }
    let cmd = format!(
        "{} replay --from-start {}",
        env!("CARGO_BIN_EXE_veille"),
        posts.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VEILLE_STORE__PATH", &store)
        .output()
        .expect("script runs");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("posts/s") && shown.contains("posts.jsonl"),
        "{shown}"
    );
}
