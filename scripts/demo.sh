#!/usr/bin/env bash
# Try aws-sso-process without AWS: starts the test suite's fake IAM Identity Center on 127.0.0.1,
# makes a throwaway HOME with no ~/.aws at all, and walks through a first day, explaining each step:
# setup (writes the sso-session, logs in with a device code the fake approves by itself, generates a
# profile per account and role), status, credential_process, refresh, a cache hit with its time,
# export, exec, a profile of your own naming, logout. Nothing leaves this machine; your own ~/.aws is
# not read.
#
#   ./scripts/demo.sh
#
# The binary: $AWS_SSO_PROCESS_BIN, else the one ./install.sh installed (PREFIX/bin, PREFIX as for
# install.sh: default ~/.local), else aws-sso-process on PATH, else a release build of this checkout.
# The fake: $FAKE_SSO, else `cargo build --release --example fake_sso` (quietly; after install.sh
# the release dependencies are built already, so this takes seconds).
# Exits 0 when every step did what it says (CI runs it as a smoke test).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$PWD/$target_dir

if [ -t 1 ]; then bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'; else bold='' dim='' off=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
note() { printf '%s    %s%s\n' "$dim" "$*" "$off"; }
# Shows the command as a user would type it, then runs it.
show() {
    local arg line='$ aws-sso-process'
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=@%+-]+$ ]]; then line+=" $arg"; else line+=" '${arg//\'/\'\\\'\'}'"; fi
    done
    printf '%s\n' "$line"
    "$bin" "$@"
}
fail() { echo "demo: $*" >&2; exit 1; }

now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local us=${EPOCHREALTIME/[.,]/}
        echo $((10#$us / 1000))
    elif perl -MTime::HiRes -e1 2>/dev/null; then
        perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000'
    else
        python3 -c 'import time; print(int(time.time() * 1000))'
    fi
}

installed=${PREFIX:-${HOME:-/nonexistent}/.local}
installed=${installed%/}/bin/aws-sso-process
if [ -n "${AWS_SSO_PROCESS_BIN:-}" ]; then
    bin=$AWS_SSO_PROCESS_BIN
elif [ -x "$installed" ] && [ -f "${installed%/bin/aws-sso-process}/share/aws-sso-process/install-manifest" ]; then
    bin=$installed
elif bin=$(command -v aws-sso-process); then
    :
else
    echo "demo: aws-sso-process is not on PATH; building this checkout (cargo build --release)..."
    cargo build --release --locked --quiet --bin aws-sso-process
    bin=$target_dir/release/aws-sso-process
fi
if [ -n "${FAKE_SSO:-}" ]; then
    fake=$FAKE_SSO
else
    echo "demo: building the fake IAM Identity Center (cargo build --release --example fake_sso)..."
    cargo build --release --locked --quiet --example fake_sso 2>/dev/null \
        || cargo build --release --locked --example fake_sso
    fake=$target_dir/release/examples/fake_sso
fi
[ -x "$bin" ] || fail "$bin is not an executable"
[ -x "$fake" ] || fail "$fake is not an executable"

demo_home=$(mktemp -d "${TMPDIR:-/tmp}/aws-sso-process-demo.XXXXXX")
fake_pid=
cleanup() {
    if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi
    rm -rf "$demo_home"
}
trap cleanup EXIT
# Device codes are approved at the second poll, so the prompt shows as it would for real.
"$fake" --approve-after 1 >"$demo_home/fake.url" 2>"$demo_home/fake.log" &
fake_pid=$!
url=
for _ in $(seq 100); do
    url=$(head -n 1 "$demo_home/fake.url" 2>/dev/null || true)
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || fail "the fake service did not start: $(cat "$demo_home/fake.log")"

# Everything below talks to the fake only, with a HOME of its own.
export HOME=$demo_home AWS_ENDPOINT_URL_SSO_OIDC=$url AWS_ENDPOINT_URL_SSO=$url
export AWS_SSO_PROCESS_TTY=none NO_PROXY=127.0.0.1,localhost
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_ENDPOINT_URL \
    AWS_REGION AWS_DEFAULT_REGION AWS_SSO_PROCESS_EXEC AWS_CA_BUNDLE BROWSER \
    HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy

echo "${bold}aws-sso-process demo${off}: $("$bin" --version), against a fake IAM Identity Center at $url"
note "binary: $bin"
note "HOME for this demo: $HOME (deleted at the end); it has no ~/.aws yet"

step "Set up: the sso-session, the login, a profile per account and role (each flag answers one question)"
show setup --start-url https://corp.awsapps.com/start --region us-east-1 --sso-session corp \
    --generate all --use-device-code --no-browser
note "(its 'try it' line is for real use: these credentials are the fake's, and AWS would refuse them)"
note "without flags, setup asks each question on the terminal; in real life you approve the code in a"
note "browser, here the fake does. The token is in ~/.aws/sso/cache, shared with 'aws sso login' and the SDKs"
profile=development.Developer
grep -q "^\[profile $profile\]" "$HOME/.aws/config" || fail "setup did not write [profile $profile]"

step "What setup wrote to ~/.aws/config (the session and the first generated profile of $(grep -c '^\[profile ' "$HOME/.aws/config"))"
awk -v RS= 'NR <= 2 { gsub(/\n/, "\n    "); print "    " $0 "\n" }' "$HOME/.aws/config"
note "every AWS tool uses these profiles: aws s3 ls --profile $profile, AWS_PROFILE=$profile terraform plan"

step "Status"
if "$bin" status --help >/dev/null 2>&1; then
    show status
else
    note "(skipped: this build has no 'status' command yet)"
fi

step "What an SDK runs for that profile: its credential_process line, one JSON object on stdout"
show --profile "$profile"
note "first call: GetRoleCredentials at the portal; the result goes to ~/.aws/cli/cache, shared with the AWS CLI"

step "Refresh the SSO access token now (normally done by itself when less than 15 minutes remain)"
show refresh --force --sso-session corp

step "credential_process again: served from the role-credential cache, no network"
start=$(now_ms)
"$bin" --debug --profile "$profile" >"$demo_home/second.json" 2>"$demo_home/second.log"
elapsed=$(($(now_ms) - start))
printf '$ aws-sso-process --profile %s\n' "$profile"
cat "$demo_home/second.json"
grep -q 'from the cache' "$demo_home/second.log" || fail "the second call did not come from the cache: $(cat "$demo_home/second.log")"
note "served from the cache in ${elapsed} ms (whole process, wall clock)"

step "The same credentials for a shell: eval \"\$(aws-sso-process export --profile $profile --format env)\""
show export --profile "$profile" --format env | sed -E 's/=(.{12}).*/=\1.../'
note "(values shortened here; also --format env-no-export, fish, powershell, windows-cmd, process)"

step "Or only for one command: exec puts them in its environment (and AWS_REGION from the profile)"
cat >>"$HOME/.aws/config" <<CONFIG

[profile dev]
credential_process = "$bin" --profile $profile
region = eu-west-1
CONFIG
note "a profile of your own naming, added by hand: [profile dev], whose credential_process names $profile"
show exec --profile dev -- sh -c 'echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_REGION=$AWS_REGION"'
note "every command takes the name your tools use: exec, export and login follow its credential_process line"

step "Log out: the portal session ends; the cached token and role credentials are deleted"
show logout --sso-session corp
set +e
show --profile dev
code=$?
set -e
[ "$code" -eq 3 ] || fail "after logout credential_process should exit 3 (login required), not $code"
note "exit $code: login required, with the command to run; SDKs show that message"

printf '\n%sDemo finished: every step worked.%s Next, with your own start URL: aws-sso-process setup\n' "$bold" "$off"
