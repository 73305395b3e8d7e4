//! The modules' dependencies run one way, as ARCHITECTURE.md lists them: each module names
//! only the modules below it, and only `store/` imports sled, only the Discord front-end
//! serenity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each module may use, lowest first: a module appears after everything it uses.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("columns", &[]),
    ("http", &[]),
    ("watch", &["model"]),
    ("config", &["model", "watch"]),
    ("store", &["model", "watch"]),
    (
        "ingest",
        &["model", "watch", "config", "store", "http", "columns"],
    ),
    ("rank", &["model", "watch", "config", "store", "http"]),
    ("alerts", &["model", "watch", "config", "store", "ingest"]),
    (
        "commands",
        &[
            "model", "watch", "config", "store", "http", "columns", "ingest", "rank", "alerts",
        ],
    ),
    (
        "app",
        &[
            "model", "watch", "config", "store", "ingest", "rank", "alerts", "commands",
        ],
    ),
    (
        "front",
        &[
            "model", "watch", "config", "store", "http", "ingest", "alerts", "commands", "app",
        ],
    ),
    (
        "cli",
        &[
            "model", "watch", "config", "store", "http", "ingest", "rank", "alerts", "commands",
            "app", "front",
        ],
    ),
];

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path).expect("text")));
        }
    }
}

/// The top-level module a source file belongs to (`src/store/posts.rs` → `store`).
fn module_of(file: &str) -> Option<String> {
    let rest = file.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let m = first.trim_end_matches(".rs");
    (!["lib", "main"].contains(&m)).then(|| m.to_string())
}

#[test]
fn modules_depend_one_way_as_the_architecture_says() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let allowed: BTreeMap<&str, BTreeSet<&str>> = LAYERS
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    // The table itself is one way: a module uses only modules listed before it.
    for (i, (m, deps)) in LAYERS.iter().enumerate() {
        for d in *deps {
            assert!(
                LAYERS[..i].iter().any(|(e, _)| e == d),
                "{m} uses {d}, which is not below it"
            );
        }
    }
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in &files {
        let Some(m) = module_of(file) else { continue };
        assert!(
            allowed.contains_key(m.as_str()),
            "{file}: module {m} is not in the layers"
        );
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if name != m && allowed.contains_key(name.as_str()) {
                found.entry(m.clone()).or_default().insert(name);
            }
        }
        if text.contains("sled::") {
            assert!(file.starts_with("src/store/"), "{file} uses sled");
        }
        if text.contains("serenity") {
            assert!(
                file.starts_with("src/front/discord/"),
                "{file} uses serenity"
            );
        }
    }
    for (m, uses) in &found {
        let extra: Vec<&String> = uses
            .iter()
            .filter(|u| !allowed[m.as_str()].contains(u.as_str()))
            .collect();
        assert!(extra.is_empty(), "{m} uses {extra:?}, above or beside it");
    }
}
