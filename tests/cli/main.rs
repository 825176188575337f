//! The integration tests: the built binary against the in-process fake service, with a throwaway
//! HOME and a cleared environment. One crate, one module per area.

mod util;

mod bad_input;
mod clients;
mod concurrency;
mod configure;
mod console;
mod crash;
mod credentials;
mod everyday;
mod hostile;
mod interop;
mod list;
mod load;
mod login;
mod logout;
mod network;
mod oidc_api;
mod refresh;
mod secrets;
mod serve;
mod status;
mod targets;
