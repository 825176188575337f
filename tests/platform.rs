//! What the test suite does not run on this platform, said in the test summary rather than left
//! out silently: `cargo test` lists each of these as ignored, with its reason.

#[cfg(not(unix))]
#[test]
#[ignore = "the CLI suite (tests/cli) needs Unix: executable scripts as fake tools, file modes, \
            symbolic links, FIFOs, signals and a pseudo-terminal; on Windows only the unit tests run"]
fn cli_suite_needs_unix() {}
