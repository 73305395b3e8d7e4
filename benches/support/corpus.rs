//! Synthetic but realistic benchmark material, shared by `benches/watch.rs` and
//! `examples/gen_corpus.rs`: watched names and posts of about 100 bytes, one in five naming a
//! watched entity, French and English, praise, complaints and plain news.

#![allow(dead_code)]

use veille::model::{EntityKind, EntitySpec};

const SYLLABLES: &[&str] = &[
    "bel", "mont", "val", "roc", "fort", "ville", "bourg", "lan", "ker", "pra", "sau", "ger",
    "mar", "cha", "tau", "vin", "lu", "ber", "nac", "ois", "ac", "euil", "gny", "ay",
];

/// A deterministic pseudo-random generator (xorshift), so that every run sees the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `n` distinct watched names like French communes, each with a handle alias; one in fifty
/// ambiguous.
pub fn entities(n: usize) -> Vec<EntitySpec> {
    let mut rng = Rng::new(42);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let parts = 2 + rng.below(2);
        let mut name = String::new();
        for _ in 0..parts {
            name.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
        }
        let mut chars = name.chars();
        let name: String = chars
            .next()
            .map(|c| c.to_ascii_uppercase())
            .into_iter()
            .chain(chars)
            .collect();
        let name = if rng.below(5) == 0 {
            format!("Saint-{name}")
        } else {
            name
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        out.push(EntitySpec {
            aliases: vec![format!("@ville{}", name.to_lowercase().replace('-', ""))],
            kind: EntityKind::Commune,
            ambiguous: out.len() % 50 == 0,
            exclude: Vec::new(),
            name,
        });
    }
    out
}

const TEMPLATES: &[&str] = &[
    "@{} vol annulé, 3h d'attente et toujours pas de réponse du service client. Une honte 😡",
    "Belle balade à {} ce matin avec les enfants, le marché était magnifique et les gens adorables !",
    "Still waiting for my refund from {}, customer service is useless. Never again.",
    "Réunion publique jeudi soir à 19h à la salle des fêtes de {} sur le budget, venez nombreux.",
    "Great weekend in {} with old friends, the food was amazing and the weather just perfect",
    "Les travaux à {} c'est pas terrible, la circulation est infernale depuis 2 semaines",
];

const PLAIN: &[&str] = &[
    "Je viens de finir mon café, direction le bureau pour une longue journée de réunions et de mails",
    "Anyone knows a good pizza place around here? Looking for something open late tonight",
    "Le train est encore en retard ce matin, trente minutes de perdues, c'est nuuuul 👎",
    "Just finished reading a great book about the history of the Mediterranean sea and its ports",
    "Quel beau coucher de soleil ce soir sur la plage, il fait encore bon pour la saison",
    "My phone keeps crashing since the last update, really annoying, please fix this",
    "On regarde le match ce soir ? Rendez-vous au bar habituel vers vingt heures trente, on compte sur toi",
    "New blog post about our trip to the mountains is up, link in bio, hope you enjoy it",
];

/// `n` posts, one in five naming one of `names` (by name or handle).
pub fn posts(n: usize, names: &[EntitySpec]) -> Vec<String> {
    let mut rng = Rng::new(7);
    (0..n)
        .map(|i| {
            if i % 5 == 0 {
                let e = &names[rng.below(names.len())];
                let t = TEMPLATES[rng.below(TEMPLATES.len())];
                let who = if rng.below(3) == 0 {
                    e.aliases[0].trim_start_matches('@').to_string()
                } else {
                    e.name.clone()
                };
                t.replace("{}", &who)
            } else {
                PLAIN[rng.below(PLAIN.len())].to_string()
            }
        })
        .collect()
}
