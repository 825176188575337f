#!/bin/sh
# Prints the release notes of VERSION (e.g. 0.1.0) from CHANGELOG.md: the lines under its
# `## [VERSION] - YYYY-MM-DD` heading, up to the next `## ` heading.
#
#   scripts/release-notes.sh VERSION [--draft]
#
# Fails (exit 1, one line on stderr) when the section is missing or empty, or when its heading has no
# date yet (`- Unreleased`): a release is tagged only after its changelog section is final.
# --draft accepts a heading without a date (.ci/run checks the upcoming version's section this way).
set -eu
version=${1:-}
[ -n "$version" ] || { echo "usage: scripts/release-notes.sh VERSION [--draft]" >&2; exit 2; }
draft=${2:-}
cd "$(dirname "$0")/.."
awk -v v="$version" -v draft="$draft" '
    BEGIN { head = "## [" v "]" }
    index($0, "## ") == 1 {
        if (found) { exit }
        if (substr($0, 1, length(head)) == head) {
            found = 1
            rest = substr($0, length(head) + 1)
            if (rest !~ /^ - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/ && draft != "--draft") {
                bad = "its heading has no release date: \"" $0 "\" (want \"" head " - YYYY-MM-DD\")"
                exit
            }
            next
        }
    }
    found { lines[++n] = $0; if ($0 ~ /[^ ]/) text = 1 }
    END {
        if (bad != "") { print "release-notes.sh: CHANGELOG.md section " v ": " bad > "/dev/stderr"; exit 1 }
        if (!found) { print "release-notes.sh: CHANGELOG.md has no section \"" head "\"" > "/dev/stderr"; exit 1 }
        if (!text) { print "release-notes.sh: CHANGELOG.md section " v " is empty" > "/dev/stderr"; exit 1 }
        # Without the blank lines around it.
        first = 1; while (first <= n && lines[first] !~ /[^ ]/) first++
        last = n; while (last >= first && lines[last] !~ /[^ ]/) last--
        for (i = first; i <= last; i++) print lines[i]
    }
' CHANGELOG.md
