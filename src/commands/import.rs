//! `import snapshots`: monthly figures from a CSV file into the store.
//!
//! Each row is merged into what the store holds for that account and month: a file with only
//! some columns never wipes the others. A header column Veille does not know (`folowers`)
//! refuses the whole file before anything is written, naming the known ones.

use std::path::Path;

use super::{CommandError, CommandResult, Context};
use crate::model::{Lang, Month, Platform, Snapshot};

/// The columns an import file may have.
pub const COLUMNS: [&str; 10] = [
    "platform",
    "account",
    "month",
    "followers",
    "following",
    "posts_total",
    "posts_month",
    "interactions_month",
    "rank",
    "category",
];

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Snapshots written (merged into the month's figures).
    pub imported: usize,
    /// One message per skipped row, with its line number.
    pub errors: Vec<String>,
}

/// Imports a snapshot CSV: good rows are merged into the store (durably), bad rows reported
/// by line. A `rank` is a published position: it belongs to the list it was published in,
/// named by the `category` column, or the account's only category.
pub fn import_snapshots(ctx: &Context, file: &Path, lang: Lang) -> CommandResult<ImportReport> {
    let catalog = &*ctx.catalog;
    let shown = file.display();
    let file_error = |e: &dyn std::fmt::Display| {
        CommandError::user_in(
            lang,
            format!("impossible de lire {shown} : {e}"),
            format!("cannot read {shown}: {e}"),
        )
    };
    let mut reader = crate::columns::reader(std::fs::File::open(file).map_err(|e| file_error(&e))?);
    let columns = crate::columns::Columns::read(&mut reader).map_err(|e| {
        CommandError::user_in(
            lang,
            format!("{shown} : en-tête illisible : {e}"),
            format!("{shown}: cannot read the header: {e}"),
        )
    })?;
    let known: Vec<&str> = COLUMNS.iter().chain(&["source"]).copied().collect();
    if let Some((h, closest)) = columns.unknown(&known) {
        let list = known.join(", ");
        return Err(CommandError::user_in(
            lang,
            format!(
                "{shown} : colonne inconnue {h:?}{} ; colonnes connues : {list}. Rien n'a été importé.",
                closest.map(|c| format!(" (vouliez-vous dire {c} ?)")).unwrap_or_default()
            ),
            format!(
                "{shown}: unknown column {h:?}{}; known columns: {list}. Nothing was imported.",
                closest.map(|c| format!(" (did you mean {c}?)")).unwrap_or_default()
            ),
        ));
    }
    if !["platform", "account", "month"]
        .iter()
        .all(|c| columns.has(c))
    {
        return Err(CommandError::user_in(
            lang,
            format!("{shown} : l'en-tête doit avoir les colonnes platform, account et month"),
            format!("{shown}: the header needs platform, account and month columns"),
        ));
    }
    let default_source = format!(
        "import {}",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("csv")
    );
    let now = chrono::Utc::now();
    let mut report = ImportReport::default();
    let mut rows: Vec<(Platform, String, Month, Snapshot)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let parsed = columns
            .row::<Row>(&record)
            .and_then(|row| row.snapshot(catalog, &default_source, now, lang));
        match parsed {
            Ok(row) => rows.push(row),
            Err(e) => report.errors.push(format!("line {line}: {e}")),
        }
    }
    report.imported = ctx
        .store
        .put_snapshots(rows.iter().map(|(p, k, m, s)| (*p, k.as_str(), *m, s)))?;
    Ok(report)
}

/// One row of an import file; numbers are read forgivingly (`18 900`, `18_900`).
#[derive(serde::Deserialize)]
struct Row {
    platform: Option<String>,
    account: Option<String>,
    month: Option<String>,
    followers: Option<String>,
    following: Option<String>,
    posts_total: Option<String>,
    posts_month: Option<String>,
    interactions_month: Option<String>,
    rank: Option<String>,
    category: Option<String>,
    source: Option<String>,
}

/// A whole number as people write it: spaces, thin spaces and `_` between digits.
fn whole(name: &str, v: Option<String>) -> Result<Option<u64>, String> {
    let Some(v) = v else { return Ok(None) };
    let text = v.replace(['\u{202F}', '\u{A0}', ' ', '_'], "");
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{name} is not a whole number: {v:?}"))
}

impl Row {
    /// The row's platform, account key, month and figures. A rank is a published position:
    /// it belongs to the list named by `category`, or the account's only list.
    fn snapshot(
        self,
        catalog: &crate::rank::catalog::Catalog,
        default_source: &str,
        now: chrono::DateTime<chrono::Utc>,
        lang: Lang,
    ) -> Result<(Platform, String, Month, Snapshot), String> {
        let platform =
            Platform::parse(self.platform.as_deref().unwrap_or("")).map_err(|e| e.message(lang))?;
        let month: Month = self.month.as_deref().unwrap_or("").parse()?;
        let account = self.account.as_deref().unwrap_or("");
        let mut found = catalog.find_account(account, Some(platform));
        if let Some(c) = &self.category {
            let wanted = catalog.category(c).map_err(|e| e.message(lang))?;
            found.retain(|(cat, _)| cat.id == wanted.id);
        }
        let mut keys: Vec<String> = found.iter().map(|(_, a)| a.key(platform)).collect();
        keys.sort();
        keys.dedup();
        let key = match keys.as_slice() {
            [k] => k.clone(),
            [] => return Err(format!("unknown account {account:?} on {platform}")),
            _ => {
                return Err(format!(
                    "{account:?} names several accounts on {platform}; use its @handle"
                ))
            }
        };
        let mut snap = Snapshot {
            source: self.source.unwrap_or_else(|| default_source.to_string()),
            collected_at: now,
            followers: whole("followers", self.followers)?,
            following: whole("following", self.following)?,
            posts_total: whole("posts_total", self.posts_total)?,
            posts_month: whole("posts_month", self.posts_month)?,
            interactions_month: whole("interactions_month", self.interactions_month)?,
            ..Snapshot::default()
        };
        if let Some(rank) = whole("rank", self.rank)? {
            let rank = u32::try_from(rank).map_err(|_| "rank too large".to_string())?;
            let mut lists: Vec<&str> = found.iter().map(|(cat, _)| cat.id.as_str()).collect();
            lists.dedup();
            let [list] = lists.as_slice() else {
                return Err(format!(
                    "a rank needs the list it was published in: {account:?} is in {}; add a category column",
                    lists.join(", ")
                ));
            };
            snap.published_ranks.insert(list.to_string(), rank);
        }
        Ok((platform, key, month, snap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn ctx() -> Context {
        let config = crate::config::Config {
            rank: crate::config::RankConfig {
                demo_data: false,
                ..Default::default()
            },
            ..Default::default()
        };
        Context::with_store(config, vec![], Store::temporary().expect("store")).expect("ctx")
    }

    /// The July 2021 Instagram snapshot of `key`, which must be stored.
    fn july(ctx: &Context, key: &str) -> Snapshot {
        let m: Month = "2021-07".parse().expect("month");
        ctx.store
            .snapshot(Platform::Instagram, m, key)
            .expect("read")
            .expect("stored")
    }

    fn import(ctx: &Context, csv: &str) -> CommandResult<ImportReport> {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("snaps.csv");
        std::fs::write(&file, csv).expect("write");
        import_snapshots(ctx, &file, Lang::En)
    }

    #[test]
    fn a_csv_import_keeps_good_rows_and_reports_bad_ones_by_line() {
        let ctx = ctx();
        let report = import(
            &ctx,
            "platform,account,month,followers,following,posts_month,interactions_month,source\n\
             instagram,@gersledepartement,2021-07,15000,300,31,25000,Meta export\n\
             instagram,@nobody,2021-07,1,1,1,1,\n\
             instagram,Isère,2021-13,1,1,1,1,\n\
             tiktok,Gers,2021-07,1,1,1,1,\n\
             instagram,paris_maville,2021-07,12 000,100,abc,1,\n\
             instagram,Eure,2021-07,9000,,,,\n",
        )
        .expect("import");
        assert_eq!(report.imported, 2);
        let lines: Vec<&str> = report.errors.iter().map(|e| &e[..7]).collect();
        assert_eq!(lines, ["line 3:", "line 4:", "line 5:", "line 6:"]);
        assert!(
            report.errors[0].contains("unknown account"),
            "{:?}",
            report.errors
        );
        assert!(
            report.errors[3].contains("posts_month"),
            "{:?}",
            report.errors
        );
        let gers = july(&ctx, "gersledepartement");
        assert_eq!(
            (gers.followers, gers.source.as_str()),
            (Some(15_000), "Meta export")
        );
        let eure = july(&ctx, "eureennormandie");
        assert_eq!(
            (eure.followers, eure.source.as_str()),
            (Some(9_000), "import snaps.csv")
        );
    }

    #[test]
    fn an_import_of_some_columns_keeps_the_month_s_other_figures() {
        let ctx = ctx();
        import(
            &ctx,
            "platform,account,month,followers,following,posts_month\ninstagram,@gersledepartement,2021-07,15000,300,31\n",
        )
        .expect("first");
        import(
            &ctx,
            "platform,account,month,rank\ninstagram,@gersledepartement,2021-07,1\n",
        )
        .expect("second");
        let gers = july(&ctx, "gersledepartement");
        assert_eq!(
            (gers.followers, gers.following, gers.posts_month),
            (Some(15_000), Some(300), Some(31))
        );
        assert_eq!(gers.published_ranks.get("departements"), Some(&1));
    }

    #[test]
    fn an_unknown_column_refuses_the_file_and_names_the_known_ones() {
        let ctx = ctx();
        let err = import(
            &ctx,
            "platform,account,month,folowers\ninstagram,@gersledepartement,2021-07,15000\n",
        )
        .expect_err("typo");
        let text = err.to_string();
        assert!(matches!(err, CommandError::User(_)));
        assert!(
            text.contains("unknown column \"folowers\" (did you mean followers?)"),
            "{text}"
        );
        assert!(
            text.contains("known columns: platform, account, month, followers"),
            "{text}"
        );
        let m: Month = "2021-07".parse().expect("month");
        assert!(ctx
            .store
            .month_snapshots(Platform::Instagram, m)
            .expect("read")
            .is_empty());
    }

    #[test]
    fn a_rank_of_an_account_in_two_lists_needs_its_category() {
        let ctx = ctx();
        let report = import(
            &ctx,
            "platform,account,month,rank,category\ninstagram,Tours,2021-07,2,\ninstagram,Tours,2021-07,1,grandes villes\n",
        )
        .expect("import");
        assert_eq!(report.imported, 1);
        assert!(
            report.errors[0].contains("add a category column"),
            "{:?}",
            report.errors
        );
    }
}
