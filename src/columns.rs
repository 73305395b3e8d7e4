//! CSV files with a header row, read by column name into serde structs: the one column
//! mapping that `replay` (posts) and `import snapshots` (monthly figures) share.
//!
//! Header names match trimmed and in any case (`Created_At` is `created_at`); values are
//! trimmed, and an empty value is a missing one (`None`). A row may be shorter than the
//! header (its last columns are then missing). Columns a row type does not name are ignored,
//! unless the caller refuses them with [`Columns::unknown`].

use std::io::Read;

use serde::de::DeserializeOwned;

/// A CSV reader as every CSV file of Veille is read: a header, trimmed values, rows of any
/// length.
pub fn reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(input)
}

/// A file's header, normalised (trimmed, lower case).
#[derive(Debug, Clone)]
pub struct Columns {
    header: csv::StringRecord,
}

impl Columns {
    /// Reads the header of `reader` (its first row).
    pub fn read<R: Read>(reader: &mut csv::Reader<R>) -> csv::Result<Columns> {
        let header = reader
            .headers()?
            .iter()
            .map(|h| h.trim().to_lowercase())
            .collect();
        Ok(Columns { header })
    }

    /// Whether the file has a column `name` (lower case).
    pub fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }

    /// The first column that is not in `known`, with the known name it is closest to (a
    /// likely typo: `folowers` for `followers`).
    pub fn unknown<'k>(&self, known: &[&'k str]) -> Option<(String, Option<&'k str>)> {
        let h = self.header.iter().find(|h| !known.contains(h))?;
        let closest = known
            .iter()
            .map(|k| (strsim::normalized_levenshtein(h, k), *k))
            .filter(|(s, _)| *s >= 0.6)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k);
        Some((h.to_string(), closest))
    }

    /// One row as `T`, its fields named by the header.
    pub fn row<T: DeserializeOwned>(&self, record: &csv::StringRecord) -> Result<T, String> {
        let padded;
        let record = if record.len() < self.header.len() {
            let mut r = record.clone();
            (record.len()..self.header.len()).for_each(|_| r.push_field(""));
            padded = r;
            &padded
        } else {
            record
        };
        record
            .deserialize(Some(&self.header))
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                _ => e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Row {
        id: Option<String>,
        text: Option<String>,
        likes: Option<u64>,
    }

    #[test]
    fn rows_are_read_by_column_name_in_any_case_and_order() {
        let mut r = reader(" Text ,ID,extra\n  hello , 7 ,x\n,8\n,9,x,surplus\n".as_bytes());
        let cols = Columns::read(&mut r).expect("header");
        let rows: Vec<Row> = r
            .records()
            .map(|rec| cols.row(&rec.expect("record")).expect("row"))
            .collect();
        assert_eq!(
            rows,
            [
                Row {
                    id: Some("7".into()),
                    text: Some("hello".into()),
                    likes: None
                },
                Row {
                    id: Some("8".into()),
                    text: None,
                    likes: None
                },
                Row {
                    id: Some("9".into()),
                    text: None,
                    likes: None
                }
            ]
        );
        assert!(cols.has("text") && !cols.has("likes"));
        assert_eq!(
            cols.unknown(&["id", "text"]),
            Some(("extra".to_string(), None))
        );
        assert_eq!(cols.unknown(&["id", "text", "extra"]), None);
    }

    #[test]
    fn an_unknown_column_names_the_closest_known_one() {
        let mut r = reader("platform,folowers\n".as_bytes());
        let cols = Columns::read(&mut r).expect("header");
        assert_eq!(
            cols.unknown(&["platform", "followers"]),
            Some(("folowers".to_string(), Some("followers")))
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_for_that_row() {
        let mut r = reader("id,likes\n1,many\n".as_bytes());
        let cols = Columns::read(&mut r).expect("header");
        let rec = r.records().next().expect("a row").expect("record");
        let err = cols.row::<Row>(&rec).expect_err("not a number");
        assert!(err.contains("invalid digit"), "{err}");
    }
}
