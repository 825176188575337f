#!/bin/sh
# Builds aws-sso-process from this checkout and installs it with its man page and shell completions.
#
#   ./install.sh                  build (cargo build --release --locked) and install into PREFIX
#   ./install.sh --binary FILE    install FILE, an aws-sso-process built already, instead of building
#   ./install.sh --uninstall      remove exactly what this script installed into PREFIX
#
# PREFIX defaults to $HOME/.local. What goes there:
#   bin/aws-sso-process
#   share/man/man1/aws-sso-process.1
#   share/bash-completion/completions/aws-sso-process     when bash is installed or that folder exists
#   share/zsh/site-functions/_aws-sso-process             when zsh is installed or that folder exists
#   share/fish/vendor_completions.d/aws-sso-process.fish  when fish is installed or that folder exists
#   share/aws-sso-process/install-manifest                every file installed and every folder created
# Running it again replaces the files in place. --uninstall removes the files the manifest lists and
# then the folders it created, when they are empty; nothing else. Building needs cargo and Rust >= 1.89,
# and touches the network only through cargo's own registry; without them (or with an older Rust,
# such as Debian's own rustc) it says how to get them: rustup, or a release binary with --binary.
set -eu

NAME=aws-sso-process
MIN_RUST=1.89

die() {
    echo "install.sh: $*" >&2
    exit 1
}

usage() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

mode=install
binary=
while [ $# -gt 0 ]; do
    case $1 in
        --uninstall) mode=uninstall ;;
        --binary)
            [ $# -ge 2 ] || die "--binary needs a file (an aws-sso-process built already)"
            binary=$2
            shift ;;
        --binary=*) binary=${1#--binary=} ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

if [ -z "${PREFIX:-}" ]; then
    [ -n "${HOME:-}" ] || die "neither PREFIX nor HOME is set: set PREFIX to the folder to install into"
    PREFIX=$HOME/.local
fi
case $PREFIX in
    /*) ;;
    *) PREFIX=$(pwd)/$PREFIX ;;
esac
case $PREFIX in
    *'
'*) die "PREFIX must not contain a line break" ;;
esac
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || die "PREFIX must not be /"
if [ -n "$binary" ]; then
    case $binary in
        /*) ;;
        *) binary=$(pwd)/$binary ;;
    esac
fi

BIN_DIR=$PREFIX/bin
MAN_DIR=$PREFIX/share/man/man1
BASH_DIR=$PREFIX/share/bash-completion/completions
ZSH_DIR=$PREFIX/share/zsh/site-functions
FISH_DIR=$PREFIX/share/fish/vendor_completions.d
MANIFEST_DIR=$PREFIX/share/$NAME
MANIFEST=$MANIFEST_DIR/install-manifest

# ------------------------------------------------------------------------------------- uninstall

# Only files inside PREFIX are removed, whatever a manifest says.
inside_prefix() {
    case $1 in
        "$PREFIX"/*) return 0 ;;
        *) echo "install.sh: skipping '$1' listed in $MANIFEST: it is outside $PREFIX" >&2; return 1 ;;
    esac
}

uninstall() {
    if [ ! -f "$MANIFEST" ]; then
        if [ -e "$BIN_DIR/$NAME" ]; then
            echo "no install manifest at $MANIFEST: $BIN_DIR/$NAME was not installed by this script; left as it is"
        else
            echo "nothing to remove: no install manifest at $MANIFEST"
        fi
        return 0
    fi
    while IFS= read -r line; do
        case $line in
            "file "*)
                path=${line#file }
                inside_prefix "$path" || continue
                if [ -e "$path" ] || [ -L "$path" ]; then
                    rm -f "$path" || die "cannot remove $path"
                    echo "removed $path"
                fi ;;
        esac
    done <"$MANIFEST"
    # Deepest first (PREFIX itself too, when this script created it); rmdir leaves any folder that
    # is not empty, so whatever else lives there now stays.
    folders=$(sed -n 's/^dir //p' "$MANIFEST" | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
    rm -f "$MANIFEST" || die "cannot remove $MANIFEST"
    echo "removed $MANIFEST"
    printf '%s\n' "$folders" | while IFS= read -r dir; do
        [ -n "$dir" ] && [ -d "$dir" ] || continue
        if rmdir "$dir" 2>/dev/null; then echo "removed empty folder $dir"; fi
    done
}

if [ "$mode" = uninstall ]; then
    uninstall
    exit 0
fi

# ------------------------------------------------------------------------------------- build

cd "$(dirname "$0")"

RUSTUP_CMD="curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"

# The way in without building, added to every "no suitable Rust" error.
no_build_hint() {
    echo "  Or skip the build: download a release archive for your platform, unpack it, and run" >&2
    echo "    ./install.sh --binary ./$NAME" >&2
}

# No cargo or rustc: rustup's own installer (Rust's official route), or the one rustup left off PATH.
no_rust() {
    echo "install.sh: $1: building $NAME needs Rust >= $MIN_RUST and cargo" >&2
    if [ -n "${HOME:-}" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
        echo "  rustup installed them in $HOME/.cargo/bin, which is not on PATH; run" >&2
        echo "    . \"\$HOME/.cargo/env\"" >&2
        echo "  (or open a new terminal) and then ./install.sh again." >&2
    else
        echo "  Install Rust with rustup, the official installer:" >&2
        echo "    $RUSTUP_CMD" >&2
        echo "  then open a new terminal and run ./install.sh again." >&2
    fi
    no_build_hint
    exit 1
}

# A Rust older than MIN_RUST: `rustup update` when rustup manages it; else (a distribution's rustc,
# e.g. Debian's, which is older than that) rustup, whose ~/.cargo/bin then comes first on PATH.
old_rust() {
    echo "install.sh: Rust $1 is too old: $NAME needs >= $MIN_RUST" >&2
    rustc_path=$(command -v rustc)
    if command -v rustup >/dev/null 2>&1; then
        echo "  Update it with rustup:" >&2
        echo "    rustup update stable" >&2
        echo "  (if this folder pins an older toolchain, 'rustup override unset' lifts that)." >&2
    else
        owner=
        if command -v dpkg >/dev/null 2>&1; then
            owner=$(dpkg -S "$rustc_path" 2>/dev/null | head -n 1 | cut -d: -f1) || owner=
        fi
        if [ -n "$owner" ]; then
            echo "  $rustc_path is from the distribution's package '$owner' (Debian's and Ubuntu's rustc" >&2
            echo "  are older than $MIN_RUST), and 'rustup update' does not apply to it." >&2
        else
            echo "  $rustc_path is not managed by rustup, so 'rustup update' does not apply to it" >&2
            echo "  (a distribution's rustc, e.g. Debian's, is older than $MIN_RUST)." >&2
        fi
        echo "  Install a current Rust with rustup, the official installer (it goes to ~/.cargo/bin" >&2
        echo "  and leaves the system's rustc alone):" >&2
        echo "    $RUSTUP_CMD" >&2
        echo "  then open a new terminal, so that ~/.cargo/bin comes first on PATH, and run ./install.sh again." >&2
    fi
    no_build_hint
    exit 1
}

if [ -z "$binary" ]; then
    command -v cargo >/dev/null 2>&1 || no_rust "cargo not found"
    command -v rustc >/dev/null 2>&1 || no_rust "rustc not found"
    version=$(rustc --version 2>/dev/null | awk '{print $2}')
    case $version in
        [0-9]*.[0-9]*) ;;
        *) no_rust "'rustc --version' does not say a version" ;;
    esac
    major=${version%%.*}
    rest=${version#*.}
    minor=${rest%%.*}
    minor=${minor%%[!0-9]*}
    want_minor=${MIN_RUST#*.}
    if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "${minor:-0}" -lt "$want_minor" ]; }; then
        old_rust "$version"
    fi
    cargo build --release --locked --bin "$NAME" || die "the build failed (see cargo's messages above)"
    target_dir=${CARGO_TARGET_DIR:-target}
    case $target_dir in
        /*) ;;
        *) target_dir=$(pwd)/$target_dir ;;
    esac
    binary=$target_dir/release/$NAME
fi
[ -f "$binary" ] && [ -x "$binary" ] || die "$binary is not an executable file"
built_version=$("$binary" --version 2>/dev/null) || die "$binary does not run"
built_version=$(printf '%s\n' "$built_version" | head -n 1)
case $built_version in
    "$NAME "*) ;;
    *) die "$binary is not $NAME (its --version says '$built_version')" ;;
esac

# ------------------------------------------------------------------------------------- install

work=$(mktemp -d) || die "cannot create a temporary folder"
trap 'rm -rf "$work"' EXIT
entries=$work/entries
: >"$entries"
# What an earlier install recorded stays recorded (its folders are still ours to remove).
if [ -f "$MANIFEST" ]; then
    grep -E '^(file|dir) /' "$MANIFEST" >>"$entries" || true
fi

record() {
    printf '%s %s\n' "$1" "$2" >>"$entries"
}

# The manifest is written after every step, so a failure half-way still leaves an exact record.
save_manifest() {
    {
        echo "# $NAME install manifest: what ./install.sh put here; './install.sh --uninstall' removes exactly this"
        awk '!seen[$0]++' "$entries"
    } >"$MANIFEST.tmp.$$" && mv -f "$MANIFEST.tmp.$$" "$MANIFEST" || die "cannot write $MANIFEST"
}

# Creates a folder and each missing parent, recording the ones it creates.
ensure_dir() {
    [ -d "$1" ] && return 0
    [ -e "$1" ] && die "$1 exists and is not a folder"
    ensure_dir "$(dirname "$1")"
    mkdir "$1" || die "cannot create $1"
    record dir "$1"
}

# put SOURCE DEST MODE: replaces DEST atomically.
put() {
    [ -d "$2" ] && die "$2 is a folder"
    cp "$1" "$2.tmp.$$" && chmod "$3" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2" || {
        rm -f "$2.tmp.$$"
        die "cannot write $2"
    }
    record file "$2"
    save_manifest
}

ensure_dir "$MANIFEST_DIR"
save_manifest

ensure_dir "$BIN_DIR"
put "$binary" "$BIN_DIR/$NAME" 755
installed=$BIN_DIR/$NAME

"$installed" man >"$work/$NAME.1" && [ -s "$work/$NAME.1" ] || die "'$installed man' failed"
ensure_dir "$MAN_DIR"
put "$work/$NAME.1" "$MAN_DIR/$NAME.1" 644

completions=
for shell in bash zsh fish; do
    case $shell in
        bash) dir=$BASH_DIR file=$NAME ;;
        zsh) dir=$ZSH_DIR file=_$NAME ;;
        fish) dir=$FISH_DIR file=$NAME.fish ;;
    esac
    command -v "$shell" >/dev/null 2>&1 || [ -d "$dir" ] || continue
    "$installed" completions "$shell" >"$work/$file" && [ -s "$work/$file" ] \
        || die "'$installed completions $shell' failed"
    ensure_dir "$dir"
    put "$work/$file" "$dir/$file" 644
    completions="$completions $shell"
done

# ------------------------------------------------------------------------------------- report

echo "installed $("$installed" --version) to $installed"
echo "  man page:    $MAN_DIR/$NAME.1 (man $NAME)"
if [ -n "$completions" ]; then
    echo "  completions:${completions}"
else
    echo "  completions: none (neither bash, zsh nor fish is installed)"
fi
echo "  manifest:    $MANIFEST (./install.sh --uninstall removes what it lists)"
case ":$PATH:" in
    *":$BIN_DIR:"*)
        found=$(command -v "$NAME" 2>/dev/null || true)
        if [ -n "$found" ] && [ "$found" != "$installed" ]; then
            echo "note: '$NAME' on your PATH is $found, which comes before $BIN_DIR"
        fi ;;
    *)
        # The exact line for the user's login shell; $HOME stays unexpanded when BIN_DIR is under it.
        # HOME and SHELL may both be unset (CI runners, cron, `env -i`): then a plain path and sh.
        home=${HOME:-}
        shown_dir=$BIN_DIR
        if [ -n "$home" ]; then
            case $BIN_DIR in
                "$home"/*) shown_dir="\$HOME/${BIN_DIR#"$home"/}" ;;
            esac
        fi
        login_shell=${SHELL:-sh}
        login_shell=${login_shell##*/}
        case $login_shell in
            zsh) fix="echo 'export PATH=\"$shown_dir:\$PATH\"' >> ~/.zshrc" ;;
            fish) fix="fish -c 'fish_add_path $BIN_DIR'" ;;
            bash) fix="echo 'export PATH=\"$shown_dir:\$PATH\"' >> ~/.bashrc" ;;
            *) fix="echo 'export PATH=\"$shown_dir:\$PATH\"' >> ~/.profile" ;;
        esac
        echo "note: $BIN_DIR is not on your PATH; to add it for $login_shell (${SHELL:-sh}), run:"
        echo "    $fix"
        echo "  then open a new terminal. Until then, run it as $installed" ;;
esac
case " $completions " in
    *" zsh "*)
        if ! zsh -fc 'print -l -- $fpath' 2>/dev/null | grep -Fqx "$ZSH_DIR"; then
            echo "note (zsh): add 'fpath=($ZSH_DIR \$fpath)' to ~/.zshrc before compinit"
        fi ;;
esac
case " $completions " in
    *" fish "*)
        # A throwaway config home: fish creates ~/.config/fish at start-up, and this check must
        # leave nothing behind that uninstall would not remove. (The data home stays: the user's
        # ~/.local/share/fish/vendor_completions.d is on fish's path through it.)
        if ! XDG_CONFIG_HOME=$work/fish-config \
            fish -c 'printf "%s\n" $fish_complete_path' 2>/dev/null | grep -Fqx "$FISH_DIR"; then
            echo "note (fish): add 'set -p fish_complete_path $FISH_DIR' to ~/.config/fish/config.fish"
        fi ;;
esac
# The command as the user can type it now: by name once PREFIX/bin is on PATH.
case ":$PATH:" in
    *":$BIN_DIR:"*) run_as=$NAME ;;
    *) run_as=$installed ;;
esac
cat <<MSG

Next: $run_as setup
  It asks for your IAM Identity Center start URL and SSO region, writes the [sso-session] to
  ~/.aws/config, logs you in, and writes one profile per account and role. Every question has a
  flag for unattended use ($NAME setup --help).
Try it without AWS first: ./scripts/demo.sh
MSG
