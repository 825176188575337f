#!/usr/bin/env bash
# The performance benchmark (CONTRIBUTING.md's speed targets), one table in one run: whole-process wall time and peak RSS of
# a cache hit (`aws-sso-process --profile dev-sso`, valid role credentials on disk) with configs of
# 3, 1,000, 5,000 and 20,000 profiles (the extra ones as `configure generate` writes them), and
# through the profile tools use (`--profile dev`, whose credential_process names dev-sso), next to
# the floors (`/bin/true`, `cat` of the two files a hit reads), botocore getting credentials for the
# same profile, the refresh path (token inside its refresh window, role cache empty: lock, CreateToken,
# fsync, GetRoleCredentials) and the local commands at 20,000 profiles. Loopback only (the fake
# service from examples/fake_sso.rs).
#
#   benches/cache_hit.sh [ROUNDS]      (default 100 rounds; each round runs every hit command once,
#                                       interleaved, so that load on a shared machine hits all alike)
#
#   BASELINE=/path/to/older/aws-sso-process benches/cache_hit.sh
#                                      adds that binary's figures in a column of its own (same run,
#                                      same files), for before/after tables
#   BOTO_RUNS=20 REFRESH_RUNS=30       runs of botocore and of the refresh path (0 skips them)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-100}
cargo build --release --quiet --bin aws-sso-process --example fake_sso
bin=$PWD/target/release/aws-sso-process
home=$(mktemp -d)
trap 'kill $fake_pid 2>/dev/null || true; rm -rf "$home"' EXIT
coproc FAKE { exec target/release/examples/fake_sso --seed-home "$home"; }
fake_pid=$FAKE_PID
read -r url <&"${FAKE[0]}"
export HOME=$home AWS_ENDPOINT_URL_SSO_OIDC=$url AWS_ENDPOINT_URL_SSO=$url AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
"$bin" --profile dev-sso >/dev/null  # fills the role cache through the fake
python3 benches/cache_hit.py "$bin" "$rounds" "${BASELINE:-}"
