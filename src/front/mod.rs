//! The front-ends: the Discord bot ([`discord`]) and the console ([`console`]). Both parse
//! what the user typed into the requests declared in [`crate::commands::request`], have the
//! command core answer them ([`crate::commands::run`]), and render its [`Reply`]: an embed on
//! Discord, text on the console. They decide nothing: who may change a server's settings,
//! what a command answers and what is stored are the command core's.
//!
//! [`Reply`]: crate::commands::Reply

pub mod console;
pub mod discord;
