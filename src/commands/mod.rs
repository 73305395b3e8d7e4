//! The commands' logic, front-end neutral: arguments in, data or a user-safe error out.
//!
//! The command line calls these today; the Discord bot and the console will call the same
//! functions. Errors are written for the user, in the user's language.

pub mod rank;
