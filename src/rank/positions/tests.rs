use super::*;

fn category(names: &[&str]) -> Category {
    Category {
        id: "departements".into(),
        label_fr: "départements".into(),
        label_en: "departments".into(),
        aliases: vec![],
        accounts: names
            .iter()
            .map(|n| Account {
                name: n.to_string(),
                insee: None,
                population: None,
                twitter: Some(n.to_lowercase()),
                instagram: None,
                bluesky: None,
                facebook: None,
            })
            .collect(),
    }
}

fn followers(n: u64) -> Snapshot {
    Snapshot {
        followers: Some(n),
        source: "test".into(),
        ..Snapshot::default()
    }
}

fn published(rank: u32) -> Snapshot {
    Snapshot {
        published_ranks: [("departements".to_string(), rank)].into(),
        source: "Observatoire".into(),
        ..Snapshot::default()
    }
}

/// Months of data: month → (account key → snapshot).
fn data(months: &[(&str, &[(&str, Snapshot)])]) -> HashMap<Month, MonthSnapshots> {
    months
        .iter()
        .map(|(m, rows)| {
            (
                m.parse().expect("month"),
                rows.iter()
                    .map(|(a, s)| (a.to_string(), s.clone()))
                    .collect(),
            )
        })
        .collect()
}

fn rank_of(data: &HashMap<Month, MonthSnapshots>, metric: Metric, month: &str) -> Option<Ranking> {
    let cat = category(&["Gers", "Paris", "Isere", "Eure"]);
    ranking(
        &cat,
        Platform::Twitter,
        metric,
        month.parse().expect("month"),
        |m| Ok(data.get(&m).cloned().unwrap_or_default()),
    )
    .expect("ranking")
}

fn summary(r: &Ranking) -> Vec<(String, u32, Move, u32)> {
    r.rows
        .iter()
        .map(|row| (row.account.name.clone(), row.rank, row.movement, row.streak))
        .collect()
}

#[test]
fn moves_and_new_entries_since_last_month() {
    let d = data(&[
        (
            "2021-05",
            &[
                ("gers", followers(10)),
                ("paris", followers(30)),
                ("isere", followers(20)),
            ],
        ),
        (
            "2021-06",
            &[
                ("gers", followers(40)),
                ("paris", followers(30)),
                ("isere", followers(20)),
                ("eure", followers(25)),
            ],
        ),
    ]);
    let r = rank_of(&d, Metric::Followers, "2021-06").expect("data");
    assert_eq!(r.basis, Basis::Measured);
    assert_eq!(
        summary(&r),
        [
            ("Gers".into(), 1, Move::Up(2), 1),
            ("Paris".into(), 2, Move::Down(1), 1),
            ("Eure".into(), 3, Move::New, 1),
            ("Isere".into(), 4, Move::Down(2), 1),
        ]
    );
}

#[test]
fn streaks_count_months_in_a_row_at_the_same_rank() {
    let d = data(&[
        (
            "2021-02",
            &[("gers", followers(5)), ("paris", followers(9))],
        ),
        (
            "2021-03",
            &[("gers", followers(10)), ("paris", followers(9))],
        ),
        (
            "2021-04",
            &[("gers", followers(11)), ("paris", followers(9))],
        ),
        (
            "2021-05",
            &[("gers", followers(12)), ("paris", followers(9))],
        ),
    ]);
    let r = rank_of(&d, Metric::Followers, "2021-05").expect("data");
    assert_eq!(summary(&r)[0], ("Gers".into(), 1, Move::Same, 3));
    assert_eq!(summary(&r)[1], ("Paris".into(), 2, Move::Same, 3));
}

#[test]
fn a_missing_month_breaks_the_streak_and_makes_everyone_new() {
    let d = data(&[
        ("2021-03", &[("gers", followers(10))]),
        ("2021-05", &[("gers", followers(12))]),
    ]);
    let r = rank_of(&d, Metric::Followers, "2021-05").expect("data");
    assert_eq!(summary(&r), [("Gers".into(), 1, Move::New, 1)]);
    assert!(
        rank_of(&d, Metric::Followers, "2021-04").is_none(),
        "no data that month"
    );
}

#[test]
fn ties_share_a_rank_and_the_next_rank_skips() {
    let d = data(&[(
        "2021-06",
        &[
            ("gers", followers(10)),
            ("paris", followers(10)),
            ("isere", followers(5)),
        ],
    )]);
    let r = rank_of(&d, Metric::Followers, "2021-06").expect("data");
    let ranks: Vec<(u32, bool)> = r.rows.iter().map(|row| (row.rank, row.tied)).collect();
    assert_eq!(ranks, [(1, true), (1, true), (3, false)]);
}

#[test]
fn published_ranks_stand_in_when_nothing_was_measured() {
    let d = data(&[
        (
            "2021-05",
            &[("gers", published(1)), ("paris", published(3))],
        ),
        (
            "2021-06",
            &[
                ("gers", published(1)),
                ("paris", published(2)),
                ("isere", published(3)),
            ],
        ),
    ]);
    let r = rank_of(&d, Metric::Performance, "2021-06").expect("data");
    assert_eq!(r.basis, Basis::Published);
    assert_eq!(
        summary(&r),
        [
            ("Gers".into(), 1, Move::Same, 2),
            ("Paris".into(), 2, Move::Up(1), 1),
            ("Isere".into(), 3, Move::New, 1),
        ]
    );
    assert_eq!(r.rows[0].value, None);
}

#[test]
fn growth_needs_last_month_and_ranks_who_has_it() {
    let d = data(&[
        (
            "2021-05",
            &[("gers", followers(10)), ("paris", followers(100))],
        ),
        (
            "2021-06",
            &[
                ("gers", followers(50)),
                ("paris", followers(110)),
                ("isere", followers(1000)),
            ],
        ),
    ]);
    let r = rank_of(&d, Metric::Growth, "2021-06").expect("data");
    let rows: Vec<(String, Option<f64>)> = r
        .rows
        .iter()
        .map(|x| (x.account.name.clone(), x.value))
        .collect();
    assert_eq!(
        rows,
        [("Gers".into(), Some(40.0)), ("Paris".into(), Some(10.0))]
    );
}

#[test]
fn a_rank_published_in_another_list_does_not_count_here() {
    let mut other = published(1);
    other.published_ranks = [("grandes-villes".to_string(), 1)].into();
    let d = data(&[("2021-06", &[("gers", published(2)), ("paris", other)])]);
    let r = rank_of(&d, Metric::Performance, "2021-06").expect("data");
    let rows: Vec<(String, u32)> = r
        .rows
        .iter()
        .map(|x| (x.account.name.clone(), x.rank))
        .collect();
    assert_eq!(rows, [("Gers".to_string(), 2)]);
}
