//! The catalogue: which accounts each category ranks, and how users may name categories and
//! platforms.
//!
//! Owns the bundled `config/catalog/*.toml` (compiled in) merged with the user's catalogue
//! files, and the forgiving parsing of names (`villes` = `ville` = `cities`, `départements` =
//! `departements`, `twitter` = `x`) with a closest-match suggestion. No I/O beyond reading the
//! files it is handed.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::watch::fold::fold;

const BUNDLED: &[(&str, &str)] = &[
    ("villes", include_str!("../../config/catalog/villes.toml")),
    (
        "departements",
        include_str!("../../config/catalog/departements.toml"),
    ),
    ("regions", include_str!("../../config/catalog/regions.toml")),
    (
        "metropoles",
        include_str!("../../config/catalog/metropoles.toml"),
    ),
    (
        "agglomerations",
        include_str!("../../config/catalog/agglomerations.toml"),
    ),
    (
        "communautes-de-communes",
        include_str!("../../config/catalog/communautes-de-communes.toml"),
    ),
    (
        "grandes-villes",
        include_str!("../../config/catalog/grandes-villes.toml"),
    ),
    (
        "villes-moyennes",
        include_str!("../../config/catalog/villes-moyennes.toml"),
    ),
    (
        "petites-villes",
        include_str!("../../config/catalog/petites-villes.toml"),
    ),
];

pub use crate::model::Platform;

impl Platform {
    /// Reads a platform as users write it.
    pub fn parse(input: &str) -> Result<Platform, UnknownName> {
        let key = name_key(input);
        Platform::ALL
            .into_iter()
            .find(|p| p.names().iter().any(|n| name_key(n) == key))
            .ok_or_else(|| {
                UnknownName::new(
                    "platform",
                    input,
                    Platform::ALL.iter().map(|p| p.id().to_string()).collect(),
                    Platform::ALL
                        .iter()
                        .flat_map(|p| {
                            p.names()
                                .iter()
                                .map(move |n| (n.to_string(), p.id().to_string()))
                        })
                        .collect(),
                )
            })
    }
}

/// A name that matches no category or platform: lists the valid ones and the closest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(crate::model::Lang::En))]
pub struct UnknownName {
    /// `category` or `platform`.
    pub what: &'static str,
    /// What the user wrote.
    pub input: String,
    /// The valid identifiers.
    pub valid: Vec<String>,
    /// The same, as English users name them (the same list when the ids are English).
    pub valid_en: Vec<String>,
    /// The identifier closest to the input, when one is close enough.
    pub closest: Option<String>,
}

impl UnknownName {
    /// The message in `lang`.
    pub fn message(&self, lang: crate::model::Lang) -> String {
        let (what_fr, whats_fr, whats_en) = match self.what {
            "category" => ("catégorie", "catégories", "categories"),
            "platform" => ("plateforme", "plateformes", "platforms"),
            "metric" => ("mesure", "mesures", "metrics"),
            other => (other, other, other),
        };
        let valid = match lang {
            crate::model::Lang::Fr => self.valid.join(", "),
            crate::model::Lang::En => self.valid_en.join(", "),
        };
        // The closest, as the English list names it.
        let closest_en = self.closest.as_ref().map(|c| {
            self.valid
                .iter()
                .position(|v| v == c)
                .and_then(|i| self.valid_en.get(i))
                .unwrap_or(c)
        });
        match lang {
            crate::model::Lang::Fr => format!(
                "{what_fr} inconnue : {:?} ; {whats_fr} possibles : {valid}{}",
                self.input,
                self.closest
                    .as_ref()
                    .map(|c| format!(" (vouliez-vous dire {c} ?)"))
                    .unwrap_or_default()
            ),
            crate::model::Lang::En => format!(
                "unknown {} {:?}; valid {whats_en}: {valid}{}",
                self.what,
                self.input,
                closest_en
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_default()
            ),
        }
    }

    /// `input` matched none of `names` (name, identifier): lists `valid` and the closest.
    pub fn new(
        what: &'static str,
        input: &str,
        valid: Vec<String>,
        names: Vec<(String, String)>,
    ) -> UnknownName {
        let key = name_key(input);
        let closest = names
            .iter()
            .map(|(name, id)| (strsim::normalized_levenshtein(&key, &name_key(name)), id))
            .filter(|(score, _)| *score >= 0.5)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id.clone());
        UnknownName {
            what,
            input: input.to_string(),
            valid_en: valid.clone(),
            valid,
            closest,
        }
    }

    /// The valid names as English users name them, in the order of `valid`.
    pub fn in_english(mut self, valid_en: Vec<String>) -> UnknownName {
        self.valid_en = valid_en;
        self
    }
}

/// How a category or platform name compares: folded, words de-pluralised, punctuation dropped.
fn name_key(s: &str) -> String {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if let Some(stem) = w.strip_suffix("ies") {
                format!("{stem}y")
            } else if w.len() > 3 && (w.ends_with('s') || w.ends_with('x')) {
                w[..w.len() - 1].to_string()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A ranked account: a territory and its handles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Its name (`Gers`, `Toulouse`).
    pub name: String,
    /// Its INSEE code, where known.
    #[serde(default)]
    pub insee: Option<String>,
    /// Its population, where known (the `performance` score's reach needs it).
    #[serde(default)]
    pub population: Option<u64>,
    /// Handle on X, without `@`.
    #[serde(default, alias = "x")]
    pub twitter: Option<String>,
    /// Handle on Instagram, without `@`.
    #[serde(default)]
    pub instagram: Option<String>,
    /// Handle on Bluesky (`name.bsky.social`).
    #[serde(default)]
    pub bluesky: Option<String>,
    /// Facebook page name.
    #[serde(default)]
    pub facebook: Option<String>,
}

impl Account {
    /// Its handle on `platform`, without `@`.
    pub fn handle(&self, platform: Platform) -> Option<&str> {
        match platform {
            Platform::Twitter => self.twitter.as_deref(),
            Platform::Instagram => self.instagram.as_deref(),
            Platform::Bluesky => self.bluesky.as_deref(),
            Platform::Facebook => self.facebook.as_deref(),
        }
        .map(|h| h.trim_start_matches('@'))
    }

    /// The key its snapshots are stored under on `platform`: the lowercased handle, or, for an
    /// account without one there (only published positions can be imported for it), `~` and
    /// its folded name.
    pub fn key(&self, platform: Platform) -> String {
        match self.handle(platform) {
            Some(h) => h.to_lowercase(),
            None => format!(
                "~{}",
                fold(&self.name).replace(|c: char| !c.is_alphanumeric(), "-")
            ),
        }
    }

    /// How it is shown on `platform`: `@handle`, or its name.
    pub fn label(&self, platform: Platform) -> String {
        match self.handle(platform) {
            Some(h) => format!("@{h}"),
            None => self.name.clone(),
        }
    }
}

/// A category of accounts ranked together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Identifier (`villes`, `departements`).
    pub id: String,
    /// French plural label (`départements`), as in « 1er des départements ».
    pub label_fr: String,
    /// English plural label.
    pub label_en: String,
    /// Other names users give it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Its accounts.
    #[serde(default, skip)]
    pub accounts: Vec<Account>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    category: Category,
    #[serde(default)]
    account: Vec<Account>,
}

/// Every category and its accounts.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    categories: Vec<Category>,
}

impl Catalog {
    /// The bundled catalogue, extended by `extra` files: a file naming an existing category
    /// adds accounts to it (an account of the same name replaces the bundled one); a new id
    /// adds a category.
    pub fn load(extra: &[impl AsRef<Path>]) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::default();
        for (name, text) in BUNDLED {
            catalog.merge(
                toml::from_str(text)
                    .with_context(|| format!("parsing bundled catalogue {name}.toml"))?,
            );
        }
        for path in extra {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading catalogue {}", path.display()))?;
            catalog.merge(
                toml::from_str(&text)
                    .with_context(|| format!("parsing catalogue {}", path.display()))?,
            );
        }
        Ok(catalog)
    }

    /// The bundled catalogue alone.
    pub fn bundled() -> Catalog {
        Catalog::load(&[] as &[&Path]).expect("the bundled catalogue parses: a unit test checks it")
    }

    fn merge(&mut self, file: CatalogFile) {
        let CatalogFile { category, account } = file;
        let target = match self.categories.iter().position(|c| c.id == category.id) {
            Some(i) => {
                let c = &mut self.categories[i];
                c.aliases.extend(category.aliases);
                c
            }
            None => {
                self.categories.push(category);
                self.categories.last_mut().expect("just pushed")
            }
        };
        for a in account {
            match target.accounts.iter_mut().find(|b| b.name == a.name) {
                Some(b) => *b = a,
                None => target.accounts.push(a),
            }
        }
    }

    /// The categories, in catalogue order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// Finds a category as users write it.
    pub fn category(&self, input: &str) -> Result<&Category, UnknownName> {
        let key = name_key(input);
        self.categories
            .iter()
            .find(|c| {
                name_key(&c.id) == key
                    || name_key(&c.label_fr) == key
                    || name_key(&c.label_en) == key
                    || c.aliases.iter().any(|a| name_key(a) == key)
            })
            .ok_or_else(|| {
                UnknownName::new(
                    "category",
                    input,
                    self.categories.iter().map(|c| c.id.clone()).collect(),
                    self.categories
                        .iter()
                        .flat_map(|c| {
                            [c.id.clone(), c.label_fr.clone(), c.label_en.clone()]
                                .into_iter()
                                .chain(c.aliases.iter().cloned())
                                .map(move |n| (n, c.id.clone()))
                        })
                        .collect(),
                )
                .in_english(self.categories.iter().map(|c| c.label_en.clone()).collect())
            })
    }

    /// Whether `input` names a category by its English label only (`cities`, `departments`):
    /// a user who writes English is answered in English.
    pub fn is_english_name(&self, input: &str) -> bool {
        let key = name_key(input);
        self.categories
            .iter()
            .any(|c| name_key(&c.label_en) == key && name_key(&c.label_fr) != key)
    }

    /// Finds accounts by handle (`@gersledepartement`), name (`Gers`) or key, on `platform`
    /// when given; each with the categories it is ranked in.
    pub fn find_account(
        &self,
        input: &str,
        platform: Option<Platform>,
    ) -> Vec<(&Category, &Account)> {
        let handle = input.trim().trim_start_matches('@').to_lowercase();
        let name = fold(input.trim());
        let platforms: Vec<Platform> = platform.map_or(Platform::ALL.to_vec(), |p| vec![p]);
        let mut out = Vec::new();
        for c in &self.categories {
            for a in &c.accounts {
                let by_handle = platforms
                    .iter()
                    .any(|&p| a.handle(p).is_some_and(|h| h.to_lowercase() == handle));
                let by_key = platforms.iter().any(|&p| a.key(p) == handle);
                if by_handle || by_key || fold(&a.name) == name {
                    out.push((c, a));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalogue_holds_every_departement_and_region() {
        let c = Catalog::bundled();
        let deps = c.category("départements").expect("départements");
        assert_eq!(deps.accounts.len(), 101);
        assert_eq!(c.category("regions").expect("régions").accounts.len(), 18);
        let villes = c.category("villes").expect("villes");
        assert_eq!(
            villes
                .accounts
                .iter()
                .filter(|a| a.twitter.is_some())
                .count(),
            30
        );
        assert_eq!(c.categories().len(), 9);
    }

    #[test]
    fn category_names_are_forgiving() {
        let c = Catalog::bundled();
        for name in ["villes", "ville", "Villes", "cities", "city", "communes"] {
            assert_eq!(c.category(name).expect(name).id, "villes");
        }
        for name in ["départements", "departements", "DEPARTEMENT", "Département"] {
            assert_eq!(c.category(name).expect(name).id, "departements");
        }
        assert_eq!(
            c.category("communautés de communes").expect("cc").id,
            "communautes-de-communes"
        );
        assert_eq!(
            c.category("grandes villes").expect("gv").id,
            "grandes-villes"
        );
        assert_eq!(c.category("métropole").expect("m").id, "metropoles");
    }

    #[test]
    fn an_unknown_category_lists_the_valid_ones_and_the_closest() {
        let c = Catalog::bundled();
        let err = c.category("departemnts").expect_err("typo");
        assert_eq!(err.closest.as_deref(), Some("departements"));
        let text = err.to_string();
        assert!(text.contains("cities, departments, regions"), "{text}");
        assert!(text.contains("did you mean departments?"), "{text}");
        let text = err.message(crate::model::Lang::Fr);
        assert!(text.contains("villes, departements, regions"), "{text}");
        assert!(text.contains("vouliez-vous dire departements ?"), "{text}");
        assert_eq!(
            c.category("departments").expect("English").id,
            "departements"
        );
        assert!(c.is_english_name("cities") && c.is_english_name("Departments"));
        assert!(!c.is_english_name("villes") && !c.is_english_name("régions"));
        assert_eq!(c.category("zzzz").expect_err("nothing close").closest, None);
    }

    #[test]
    fn platform_names_are_forgiving() {
        assert_eq!(Platform::parse("twitter"), Ok(Platform::Twitter));
        assert_eq!(Platform::parse("X"), Ok(Platform::Twitter));
        assert_eq!(Platform::parse("Insta"), Ok(Platform::Instagram));
        assert_eq!(Platform::parse("bsky"), Ok(Platform::Bluesky));
        let err = Platform::parse("instagarm").expect_err("typo");
        assert_eq!(err.closest.as_deref(), Some("instagram"));
    }

    #[test]
    fn accounts_are_found_by_handle_or_name() {
        let c = Catalog::bundled();
        let found = c.find_account("@gersledepartement", Some(Platform::Instagram));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.name, "Gers");
        assert_eq!(found[0].1.key(Platform::Instagram), "gersledepartement");
        let tours = c.find_account("Tours", None);
        assert_eq!(tours.len(), 2, "Tours is in villes and grandes villes");
        assert_eq!(tours[0].1.key(Platform::Instagram), "~tours");
    }

    #[test]
    fn user_files_extend_the_catalogue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "[category]\nid = \"villes\"\nlabel_fr = \"villes\"\nlabel_en = \"cities\"\n\n[[account]]\nname = \"Lyon\"\ninsee = \"69123\"\npopulation = 522250\ntwitter = \"VilledeLyon\"\n",
        )
        .expect("write");
        let c = Catalog::load(&[&path]).expect("loads");
        let lyon = c.find_account("Lyon", None);
        assert_eq!(lyon[0].1.twitter.as_deref(), Some("VilledeLyon"));
        assert_eq!(c.category("villes").expect("villes").accounts.len(), 34);
    }
}
