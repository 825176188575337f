//! One module per subcommand. Commands print their results; nothing below them does.

pub mod configure;
pub mod console;
pub mod credentials;
pub mod docs;
pub mod exec;
pub mod export;
pub mod list;
pub mod login;
pub mod logout;
pub mod oidc_api;
pub mod refresh;
pub mod serve;
pub mod setup;
pub mod status;
