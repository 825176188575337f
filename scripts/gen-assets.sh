#!/bin/sh
# Generates the man page and shell completions with a built binary, for the packages:
#
#   scripts/gen-assets.sh [BINARY [OUT]]    default: target/release/aws-sso-process, target/assets
#
# They come from the binary's own command-line definition (`man`, `completions SHELL`), so they
# always match it. What goes into OUT:
#   man/aws-sso-process.1 and man/aws-sso-process.1.gz (gzip -n: the same bytes every run)
#   completions/aws-sso-process.bash, completions/_aws-sso-process (zsh),
#   completions/aws-sso-process.fish, completions/_aws-sso-process.ps1, completions/aws-sso-process.elv
# Used before `cargo deb` ([package.metadata.deb] in Cargo.toml names these paths) and by the
# release workflow for its archives. Any failure is one line on stderr and exit 1.
set -eu
bin=${1:-target/release/aws-sso-process}
out=${2:-target/assets}
die() {
    echo "gen-assets.sh: $*" >&2
    exit 1
}
[ -f "$bin" ] && [ -x "$bin" ] || die "$bin is not an executable file (build it first: cargo build --release --locked)"
rm -rf "$out/man" "$out/completions"
mkdir -p "$out/man" "$out/completions" || die "cannot create $out"
"$bin" man >"$out/man/aws-sso-process.1" && [ -s "$out/man/aws-sso-process.1" ] || die "'$bin man' failed"
gzip -9nc "$out/man/aws-sso-process.1" >"$out/man/aws-sso-process.1.gz" || die "gzip failed"
for shell in bash zsh fish powershell elvish; do
    case $shell in
        bash) file=aws-sso-process.bash ;;
        zsh) file=_aws-sso-process ;;
        fish) file=aws-sso-process.fish ;;
        powershell) file=_aws-sso-process.ps1 ;;
        elvish) file=aws-sso-process.elv ;;
    esac
    "$bin" completions "$shell" >"$out/completions/$file" && [ -s "$out/completions/$file" ] \
        || die "'$bin completions $shell' failed"
done
echo "gen-assets.sh: man page and completions of $("$bin" --version) in $out"
