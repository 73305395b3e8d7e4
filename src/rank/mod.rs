//! Rankings and monthly positions: the catalogue of ranked accounts, the metrics, the
//! positions with moves and streaks, and the words users read.
//!
//! Pure except [`seeds::ensure`], which writes the seed figures to the store once, and
//! [`collect`], which asks X, Bluesky and Instagram for the figures and returns snapshots.

pub mod catalog;
pub mod collect;
pub mod message;
pub mod positions;
pub mod score;
pub mod seeds;
