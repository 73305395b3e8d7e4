//! The integration tests, in one binary so that it links once: the real `veille` binary as a
//! user runs it, and the real clients against fakes on 127.0.0.1.

mod alerts;
mod app;
mod cli;
mod discord;
mod fake_discord;
mod feeds;
mod ingest;
mod instagram;
mod layers;
mod mastodon;
mod replay;
mod support;
mod tenancy;
