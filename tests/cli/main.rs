//! The integration tests: the built binary against the in-process fake service, with a throwaway
//! HOME and a cleared environment. One crate, one module per area.
//!
//! Unix only: the suite builds its world from Unix facilities (executable scripts as fake tools,
//! file modes, symbolic links, FIFOs, signals, process groups, a pseudo-terminal). On Windows it is
//! compiled out, and `tests/platform.rs` reports that as an ignored test with the reason.
#![cfg(unix)]

mod util;

mod bad_input;
mod chains;
mod cli_parity;
mod clients;
mod completions;
mod concurrency;
mod configure;
mod console;
mod crash;
mod credentials;
mod exec;
mod export;
mod hostile;
mod install;
mod interop;
mod list;
mod load;
mod login;
mod login_screen;
mod logout;
mod network;
mod oidc_api;
mod pipes;
mod refresh;
mod roles;
mod secrets;
mod serve;
mod setup;
mod status;
mod targets;
