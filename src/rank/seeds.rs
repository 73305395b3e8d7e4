//! The seed articles' figures, imported as dated snapshots on first start so that
//! `veille rank villes twitter` answers out of the box.
//!
//! - eTerritoire's ranking of the 30 French cities that tweet the most: tweets since each
//!   account opened (shared/seeds/000). The article is undated; a companion article
//!   (shared/seeds/001) dates the period to September 2014, the month used here.
//! - The Observatoire Social Media des territoires' Instagram TOP 50s published early July 2021
//!   (shared/seeds/002), dated June 2021: départements (top 10), métropoles (top 5),
//!   communautés de communes (top 8), and the first of the other lists.
//! - The Gers first of the départements every month since January 2021 (shared/seeds/002:
//!   « depuis le début de l'année »; shared/seeds/003: first for the third month in a row in
//!   March 2021). Seed 002 also says the Gers was first in December 2020 for the third month
//!   running, which contradicts seed 003; that claim is left out.

use chrono::{TimeZone, Utc};

use super::catalog::{Catalog, Platform};
use crate::model::{Month, Snapshot};
use crate::store::Store;

/// The marker set once the seeds are imported.
/// Version 2 files published ranks under the list they were published in; a store seeded
/// by version 1 is seeded again (snapshot writes merge, so other figures stay).
pub const MARKER: &str = "demo_seeds_v2";

const ETERRITOIRE: &str = "eTerritoire, villes les plus actives sur Twitter (2014)";
const OBSERVATOIRE: &str =
    "Observatoire Social Media des territoires, TOP 50 Instagram (juillet 2021)";
const GERS_STREAK: &str =
    "Observatoire Social Media des territoires, via La Dépêche et le Journal Toulousain (2021)";

/// eTerritoire's 30 cities: X handle, tweets since the account opened.
const TWEETS_2014: &[(&str, u64)] = &[
    ("Toulouse", 18_900),
    ("villeangers", 17_800),
    ("Paris", 11_500),
    ("villechateaudun", 10_600),
    ("Mairie_Niort", 10_500),
    ("Bordeaux", 7_780),
    ("villelalonde83", 7_570),
    ("VilleNanterre", 6_337),
    ("villeagen", 6_157),
    ("villedebesancon", 5_953),
    ("Bourg_la_Reine", 5_855),
    ("villedebeauvais", 5_728),
    ("lavillederouen", 4_930),
    ("Ville_BoulogneB", 4_573),
    ("VilledeNice", 4_530),
    ("BrestFr", 4_400),
    ("LeMansUneMarque", 4_355),
    ("mairiedigne", 4_291),
    ("VilleStDizier", 4_160),
    ("ville_montreuil", 4_119),
    ("VilleCannes", 3_808),
    ("mairieivry", 3_803),
    ("ClermontFd", 3_622),
    ("nantesfr", 3_617),
    ("VilleSaintDenis", 3_498),
    ("VilledeDreux", 3_465),
    ("mongrandbo", 3_359),
    ("VilleArras", 3_331),
    ("MAIRIE97320", 3_313),
    ("villedetrappes", 3_240),
];

/// Published Instagram positions for June 2021: category, account (handle or name), rank.
const OBSERVATOIRE_2021_06: &[(&str, &str, u32)] = &[
    ("departements", "gersledepartement", 1),
    ("departements", "paris_maville", 2),
    ("departements", "isere.le.departement", 3),
    ("departements", "haute_marne", 4),
    ("departements", "hautsavoie_dep74", 5),
    ("departements", "eureennormandie", 6),
    ("departements", "departement.ardeche", 7),
    ("departements", "ariegeledpt", 8),
    ("departements", "hautevienne_dep", 9),
    ("departements", "ma_charente_maritime", 10),
    ("regions", "Occitanie", 4),
    ("metropoles", "Nantes Métropole", 1),
    ("metropoles", "Eurométropole de Strasbourg", 2),
    ("metropoles", "Brest Métropole", 3),
    ("metropoles", "Rennes Métropole", 4),
    ("metropoles", "Metz Métropole", 5),
    ("agglomerations", "Grand Cahors", 3),
    ("communautes-de-communes", "cc_comtal_lot_truyere", 1),
    ("communautes-de-communes", "paysbigouden", 2),
    ("communautes-de-communes", "lescoevrons", 3),
    ("communautes-de-communes", "Isignyomahaintercom", 4),
    ("communautes-de-communes", "latenareze", 5),
    ("communautes-de-communes", "stylemillau", 6),
    ("communautes-de-communes", "ccpaysdevalois", 7),
    ("communautes-de-communes", "creuseconfluence", 8),
    ("grandes-villes", "Tours", 1),
    ("villes-moyennes", "Menton", 1),
    ("petites-villes", "Méailles", 1),
];

/// Every seed snapshot: platform, account key, month, snapshot.
pub fn snapshots(catalog: &Catalog) -> anyhow::Result<Vec<(Platform, String, Month, Snapshot)>> {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("a fixed valid date");
    let mut out = Vec::new();
    let sept_2014 = Month::new(2014, 9).expect("valid month");
    for &(handle, tweets) in TWEETS_2014 {
        let key = resolve(catalog, "villes", handle, Platform::Twitter)?;
        let followers = (handle == "Toulouse").then_some(44_000); // « les 44.000 personnes qui suivent ce flux »
        out.push((
            Platform::Twitter,
            key,
            sept_2014,
            Snapshot {
                posts_total: Some(tweets),
                followers,
                source: ETERRITOIRE.into(),
                collected_at: at,
                ..Snapshot::default()
            },
        ));
    }
    let june_2021 = Month::new(2021, 6).expect("valid month");
    for &(category, account, rank) in OBSERVATOIRE_2021_06 {
        let key = resolve(catalog, category, account, Platform::Instagram)?;
        out.push((
            Platform::Instagram,
            key,
            june_2021,
            published(category, rank, OBSERVATOIRE, at),
        ));
    }
    let gers = resolve(
        catalog,
        "departements",
        "gersledepartement",
        Platform::Instagram,
    )?;
    for month in 1..=5 {
        let m = Month::new(2021, month).expect("valid month");
        out.push((
            Platform::Instagram,
            gers.clone(),
            m,
            published("departements", 1, GERS_STREAK, at),
        ));
    }
    Ok(out)
}

fn published(category: &str, rank: u32, source: &str, at: chrono::DateTime<Utc>) -> Snapshot {
    Snapshot {
        published_ranks: [(category.to_string(), rank)].into(),
        source: source.into(),
        collected_at: at,
        ..Snapshot::default()
    }
}

fn resolve(
    catalog: &Catalog,
    category: &str,
    account: &str,
    platform: Platform,
) -> anyhow::Result<String> {
    let cat = catalog.category(category)?;
    cat.accounts
        .iter()
        .find(|a| {
            a.handle(platform)
                .is_some_and(|h| h.eq_ignore_ascii_case(account))
                || a.name == account
        })
        .map(|a| a.key(platform))
        .ok_or_else(|| anyhow::anyhow!("seed account {account} is not in the {category} catalogue"))
}

/// Imports the seeds once per store.
pub fn ensure(store: &Store, catalog: &Catalog) -> anyhow::Result<bool> {
    if store.marker(MARKER)? {
        return Ok(false);
    }
    let snaps = snapshots(catalog)?;
    store.put_snapshots(snaps.iter().map(|(p, k, m, s)| (*p, k.as_str(), *m, s)))?;
    store.set_marker(MARKER)?;
    Ok(true)
}
