#!/bin/sh
# Builds aws-sso-process from this checkout and installs it into ${PREFIX:-$HOME/.local}/bin.
#   ./install.sh               build (release, --locked) and install
#   ./install.sh --uninstall   remove what this script installed
# Needs cargo and Rust >= 1.89. Touches the network only through cargo's own registry.
set -eu

PREFIX=${PREFIX:-$HOME/.local}
BIN_DIR=$PREFIX/bin
NAME=aws-sso-process
MIN_RUST=1.89

die() { echo "install.sh: $*" >&2; exit 1; }

case ${1:-} in
    --uninstall)
        if [ -e "$BIN_DIR/$NAME" ]; then
            rm -f "$BIN_DIR/$NAME"
            echo "removed $BIN_DIR/$NAME"
        else
            echo "nothing to remove: $BIN_DIR/$NAME does not exist"
        fi
        exit 0 ;;
    "") ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (use --uninstall or --help)" ;;
esac

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust from https://rustup.rs (>= $MIN_RUST)"
version=$(rustc --version 2>/dev/null | awk '{print $2}') || die "rustc not found"
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
want_minor=${MIN_RUST#*.}
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt "$want_minor" ]; }; then
    die "Rust $version is too old: $NAME needs >= $MIN_RUST (run 'rustup update')"
fi

cd "$(dirname "$0")"
cargo build --release --locked --bin "$NAME" || die "the build failed"
mkdir -p "$BIN_DIR" || die "cannot create $BIN_DIR"
cp target/release/$NAME "$BIN_DIR/$NAME.tmp.$$" && mv -f "$BIN_DIR/$NAME.tmp.$$" "$BIN_DIR/$NAME" \
    || die "cannot write $BIN_DIR/$NAME"
chmod 755 "$BIN_DIR/$NAME"

echo "installed $("$BIN_DIR/$NAME" --version) to $BIN_DIR/$NAME"
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "note: $BIN_DIR is not on your PATH; add it, or use the full path in ~/.aws/config" ;;
esac
cat <<MSG

Put one of these in ~/.aws/config (the profile tools use must hold no sso_* keys):

  [profile dev]
  credential_process = $NAME --profile dev-sso

  [profile dev-sso]
  sso_session = corp
  sso_account_id = 111122223333
  sso_role_name = Developer

  [sso-session corp]
  sso_start_url = https://corp.awsapps.com/start
  sso_region = us-east-1
  sso_registration_scopes = sso:account:access

or, without a second profile:

  [profile dev]
  credential_process = $NAME --sso-session corp --account-id 111122223333 --role-name Developer

Then log in once: $NAME login --sso-session corp
MSG
