#!/usr/bin/env python3
"""Checks that every relative link and #anchor in README.md, CONTRIBUTING.md and docs/*.md resolves.

    scripts/check-links.py [FILE.md ...]     (default: those files, from the repository root)

A link is `[text](target)` outside code blocks and code spans. Links with a scheme (https:, mailto:)
are not checked. A relative target must exist (file or folder); an anchor (`page.md#anchor`, or
`#anchor` in the same page) must be the GitHub id of a heading in that Markdown page: lower case,
characters other than letters, digits, `-`, `_` and spaces dropped, spaces turned into `-`, and
`-1`, `-2`, ... appended to repeats. Prints one line per broken link and exits 1 if there is any.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def lines_outside_code(path):
    """(line number, text) of each line not in a fenced code block, with code spans blanked."""
    fence = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
                continue
            if m.group(1) == fence:
                fence = None
                continue
        if fence is None:
            yield number, re.sub(r"(`+)(.+?)\1", lambda c: " " * len(c.group(0)), line)


def slug(text):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "-_ ")
    return text.replace(" ", "-")


anchors_cache = {}


def shown(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def anchors(path):
    if path not in anchors_cache:
        seen = {}
        ids = set()
        fence = None
        for line in path.read_text(encoding="utf-8").splitlines():
            m = FENCE.match(line)
            if m:
                fence = m.group(1) if fence is None else (None if m.group(1) == fence else fence)
                continue
            h = HEADING.match(line) if fence is None else None
            if h:
                base = slug(h.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                ids.add(base if n == 0 else f"{base}-{n}")
        for m in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text(encoding="utf-8")):
            ids.add(m.group(1))
        anchors_cache[path] = ids
    return anchors_cache[path]


def check(path):
    problems = []
    for number, line in lines_outside_code(path):
        for m in LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{shown(path)}:{number}: {target}"
            if not dest.exists():
                problems.append(f"{where}: no such file")
            elif anchor:
                if dest.is_dir() or dest.suffix != ".md":
                    problems.append(f"{where}: an anchor into something that is not a Markdown page")
                elif anchor not in anchors(dest):
                    problems.append(f"{where}: no heading with this anchor in {shown(dest)}")
    return problems


def main(args):
    files = [Path(a).resolve() for a in args] or [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    problems = []
    for f in files:
        if not f.is_file():
            problems.append(f"{f}: no such file")
            continue
        problems.extend(check(f))
    for p in problems:
        print(p)
    if problems:
        print(f"check-links: {len(problems)} broken link(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
