#!/usr/bin/env python3
"""Checks every import in src/ against the layer order of CONTRIBUTING.md's Layout block.

The order is read from that block and from nowhere else: each line that starts with `src/` is one layer,
from the top (main.rs) down; its first column names the files and folders of that layer (`src/oidc.rs,
portal.rs`; a folder, `src/login/`, holds every module under it). A line `exception: <files> -> <path>`
allows those files to import that one item (or anything under it) from above.

Rules, for every `use` (grouped `use crate::{a, b::{c, d}}` included), every `crate::`/`super::`/`self::`
path written in the code (`crate::cmd::credentials::fetch(..)`), outside `#[cfg(test)]` items:
- an import points down the list, or stays in its own layer (files on one line may use each other,
  as long as no cycle forms);
- a command (a module under src/cmd/) imports no other command (src/cmd/mod.rs, the dispatcher, may).

Each violation is printed as `from -> to (file:line)`, then the rule it breaks; exit 1 on any.
Usage: scripts/module-graph.py [--edges]      (--edges also prints the whole module graph)
Tests: scripts/test_module_graph.py.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))


# ---------------------------------------------------------------------------------------------------
# Source text: comments and literals blanked (newlines kept, so line numbers stay), then tokens.


RAW = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")


def blank(text):
    """The text with comments, string and char literals replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)

    def keep_lines(s):
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(keep_lines(text[i:j]))
            i = j
        elif c in "br" and (m := RAW.match(text, i)) and (i == 0 or not is_ident(text[i - 1])):
            close = '"' + m.group(1)
            j = text.find(close, m.end())
            j = n if j < 0 else j + len(close)
            out.append(keep_lines(text[i:j]))
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not is_ident(text[i - 1]))):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(keep_lines(text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '"'), else a lifetime or label ('a, 'static).
            m = CHAR.match(text, i)
            if m:
                out.append(" " * (m.end() - i))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def is_ident(c):
    return c.isalnum() or c == "_"


TOKEN = re.compile(r"r#[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*|::|\S")


def tokens(text):
    """(token, line) pairs of blanked text."""
    out, line, pos = [], 1, 0
    for m in TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        tok = m.group()
        out.append((tok[2:] if tok.startswith("r#") else tok, line))
    return out


# ---------------------------------------------------------------------------------------------------
# Paths a file uses: (segments as written, line, inline module path inside the file).


def skip_item(toks, i):
    """Index after the item starting at toks[i] (its attributes included): up to `;` or a balanced block."""
    n = len(toks)
    while i < n and toks[i][0] == "#":
        i = skip_group(toks, i + 1) if i + 1 < n and toks[i + 1][0] == "[" else i + 1
    depth = 0
    while i < n:
        t = toks[i][0]
        if t in "([":
            depth += 1
        elif t in ")]":
            depth -= 1
        elif t == ";" and depth == 0:
            return i + 1
        elif t == "{" and depth == 0:
            return skip_group(toks, i)
        i += 1
    return n


def skip_group(toks, i):
    """toks[i] opens a bracket; index after its match."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[toks[i][0]]]
    i += 1
    while i < len(toks) and stack:
        t = toks[i][0]
        if t in pairs:
            stack.append(pairs[t])
        elif t == stack[-1]:
            stack.pop()
        i += 1
    return i


def is_cfg_test(toks, i):
    """toks[i] is `#`: is it `#[cfg(test)]` (or `#[cfg(all(test, ...))]`)? Returns (bool, index after)."""
    if i + 1 >= len(toks) or toks[i + 1][0] != "[":
        return False, i + 1
    end = skip_group(toks, i + 1)
    words = [t for t, _ in toks[i + 2:end - 1]]
    test = len(words) >= 4 and words[0] == "cfg" and "test" in words and "not" not in words
    return test, end


def use_tree(toks, i, prefix, out):
    """Parses one use tree at toks[i] under `prefix` (segments); appends (segments, line); returns index."""
    segs = list(prefix)
    n = len(toks)
    if i < n and toks[i][0] == "::":  # `use ::std::...`: an extern crate
        segs, i = segs + ["::"], i + 1
    while i < n:
        t, line = toks[i]
        if t == "{":
            i += 1
            while i < n and toks[i][0] != "}":
                i = use_tree(toks, i, segs, out)
                if i < n and toks[i][0] == ",":
                    i += 1
            return i + 1
        if t == "*":
            out.append((segs, line))
            return i + 1
        if not (t[0].isalpha() or t[0] == "_"):
            return i
        if t == "self" and segs and segs == list(prefix) and prefix:
            out.append((segs, line))  # `a::{self, b}`: `a` itself
        else:
            segs = segs + [t]
        i += 1
        if i < n and toks[i][0] == "as":
            i += 2
        if i < n and toks[i][0] == "::":
            i += 1
            continue
        if segs != list(prefix):
            out.append((segs, line))
        return i
    return i


def used_paths(text):
    """Every path a file's code uses, as (segments, line, inline module segments), tests left out."""
    toks = tokens(blank(text))
    out = []
    inline = []  # stack of (module name, depth at which it closes)
    depth = 0
    i, n = 0, len(toks)
    while i < n:
        t, line = toks[i]
        if t == "#":
            test, after = is_cfg_test(toks, i)
            if test:
                i = skip_item(toks, after)
                continue
            i = after
            continue
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if inline and inline[-1][1] == depth:
                inline.pop()
        elif t == "mod" and i + 2 < n and toks[i + 2][0] == "{":
            inline.append((toks[i + 1][0], depth))
            depth += 1
            i += 3
            continue
        elif t == "use" and (i == 0 or toks[i - 1][0] != "::"):
            leaves = []
            i = use_tree(toks, i + 1, [], leaves)
            mods = [m for m, _ in inline]
            out.extend((segs, ln, mods, True) for segs, ln in leaves)
            continue
        elif t in ("crate", "super", "self") and (i == 0 or toks[i - 1][0] not in ("$", "::", "in")):
            segs = [t]
            j = i + 1
            while j + 1 < n and toks[j][0] == "::" and (toks[j + 1][0][0].isalpha() or toks[j + 1][0][0] == "_"):
                segs.append(toks[j + 1][0])
                j += 2
            if len(segs) > 1:
                out.append((segs, line, [m for m, _ in inline], False))
            i = j
            continue
        i += 1
    return out


# ---------------------------------------------------------------------------------------------------
# Modules, the layer order, the rules.


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts == ["main"] or parts == ["lib"]:
        return ()
    return tuple(parts)


def name(mod):
    return "::".join(mod) if mod else "main"


def resolve(segs, here, is_use, modules):
    """Absolute segments of a path written in module `here` (file module + inline ones), or None."""
    first = segs[0]
    if first == "crate":
        return tuple(segs[1:])
    if first == "super":
        base = list(here)
        k = 0
        while k < len(segs) and segs[k] == "super":
            if not base:
                return None
            base.pop()
            k += 1
        return tuple(base) + tuple(segs[k:])
    if first == "self":
        return tuple(here) + tuple(segs[1:])
    if is_use and tuple(here) + (first,) in modules:  # `use child::x` of a module declared here
        return tuple(here) + tuple(segs)
    return None


def owner(path, modules):
    """The longest file module that `path` starts with."""
    for k in range(len(path), -1, -1):
        if path[:k] in modules:
            return path[:k]
    return ()


def parse_layout(text):
    """Layers (list of sets of module prefixes, top first) and exceptions ({from module: [item path]})
    from CONTRIBUTING.md's Layout block: the first ``` block after a paragraph starting `Layout.`."""
    m = re.search(r"^Layout\..*?^```\n(.*?)^```", text, re.S | re.M)
    if not m:
        raise ValueError("CONTRIBUTING.md has no Layout block (a paragraph starting 'Layout.' and a ``` block)")
    layers, exceptions = [], {}
    for raw in m.group(1).splitlines():
        if raw.startswith("exception:"):
            spec = raw[len("exception:"):].split("  ")[0].strip()
            files, _, item = spec.partition("->")
            item = tuple(s for s in item.strip().split("::") if s)
            if not files.strip() or not item:
                raise ValueError(f"bad exception line in the Layout block: {raw!r}")
            for f in files.split(","):
                exceptions.setdefault(file_to_module(f.strip()), []).append(item)
            continue
        if not raw.startswith("src/"):
            continue
        first = re.split(r"\s{2,}", raw.strip())[0]
        layer = set()
        for f in first.split(","):
            layer.add(file_to_module(f.strip()))
        layers.append(layer)
    if not layers:
        raise ValueError("the Layout block lists no src/ files")
    return layers, exceptions


def file_to_module(f):
    f = f.removeprefix("src/")
    if f.endswith("/"):
        return tuple(f.rstrip("/").split("/"))
    if not f.endswith(".rs"):
        raise ValueError(f"not a .rs file or a folder/ in the Layout block: {f!r}")
    parts = f[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    return () if parts in (["main"], ["lib"]) else tuple(parts)


def layer_of(mod, layers):
    """Index of the layer whose entry is the longest prefix of `mod`, or None."""
    best, best_len = None, -1
    for k, layer in enumerate(layers):
        for entry in layer:
            if mod[: len(entry)] == entry and len(entry) > best_len and (entry or not mod):
                best, best_len = k, len(entry)
    return best


def command(mod):
    """The command a module belongs to (`cmd::x::...` -> x), or None."""
    return mod[1] if len(mod) >= 2 and mod[0] == "cmd" else None


def check(files, layers, exceptions):
    """files: {relative file name: (module, text)}. Returns (violations, edges, unlisted modules)."""
    modules = {mod for mod, _ in files.values()}
    violations, edges, unlisted = [], {}, set()
    for fname, (mod, text) in sorted(files.items()):
        if layer_of(mod, layers) is None:
            unlisted.add(mod)
        seen = set()
        for segs, line, inline, is_use in used_paths(text):
            here = mod + tuple(inline)
            path = resolve(segs, here, is_use, modules)
            if path is None:
                continue
            to = owner(path, modules)
            if to == mod:
                continue
            edges.setdefault(mod, set()).add(to)
            why = rule_broken(mod, to, path, layers, exceptions)
            if why and (to, line) not in seen:
                seen.add((to, line))
                violations.append((mod, to, fname, line, why))
    return violations, edges, unlisted


def rule_broken(mod, to, path, layers, exceptions):
    a, b = command(mod), command(to)
    if a and b and a != b:
        return "a command imports another command"
    lf, lt = layer_of(mod, layers), layer_of(to, layers)
    if lf is None or lt is None:
        return None  # reported once as unlisted
    if lt < lf:
        if any(path[: len(item)] == item for item in exceptions.get(mod, [])):
            return None
        return "points up the Layout list"
    return None


def entry_of(mod, layers):
    """The Layout entry (file or folder) that holds `mod`."""
    best = None
    for layer in layers:
        for entry in layer:
            if mod[: len(entry)] == entry and (entry or not mod) and (best is None or len(entry) > len(best)):
                best = entry
    return mod if best is None else best


def entry_edges(edges, layers):
    """The module graph with each module replaced by its Layout entry (a folder's files use each other
    through `super::` freely; a cycle between entries is what counts)."""
    out = {}
    for frm, tos in edges.items():
        a = entry_of(frm, layers)
        for to in tos:
            b = entry_of(to, layers)
            if a != b:
                out.setdefault(a, set()).add(b)
    return out


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return sccs


def load(repo):
    src = os.path.join(repo, "src")
    files = {}
    for dirpath, _, names in os.walk(src):
        for f in names:
            if f.endswith(".rs"):
                p = os.path.join(dirpath, f)
                with open(p, encoding="utf-8") as fh:
                    files[os.path.relpath(p, repo)] = (module_of(src, p), fh.read())
    files = without_test_modules(files)
    with open(os.path.join(repo, "CONTRIBUTING.md"), encoding="utf-8") as fh:
        layers, exceptions = parse_layout(fh.read())
    return files, layers, exceptions


TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")


def without_test_modules(files):
    """Leaves out the files of modules declared under `#[cfg(test)]` (`#[cfg(test)] mod vectors;`),
    and everything below them: they are tests, as `#[cfg(test)]` items inside a file are."""
    test_mods = set()
    for mod, text in files.values():
        for m in TEST_MOD.finditer(text):
            test_mods.add(mod + (m.group(1),))
    return {
        f: (mod, text)
        for f, (mod, text) in files.items()
        if not any(mod[: len(t)] == t for t in test_mods)
    }


def main(argv):
    files, layers, exceptions = load(REPO)
    violations, edges, unlisted = check(files, layers, exceptions)
    if "--edges" in argv:
        for m in sorted(edges):
            print(f"{name(m)} -> {', '.join(sorted(name(t) for t in edges[m]))}")
    for mod in sorted(unlisted):
        print(f"{name(mod)}: not in CONTRIBUTING.md's Layout list (add its file there)")
    for frm, to, fname, line, why in violations:
        print(f"{name(frm)} -> {name(to)} ({fname}:{line}): {why}")
    loops = cycles(entry_edges(edges, layers))
    for comp in loops:
        print("cycle:", " <-> ".join(name(m) for m in comp))
    bad = len(violations) + len(unlisted) + len(loops)
    print(
        f"{len(files)} modules, {sum(len(t) for t in edges.values())} imports between them: "
        f"{len(violations)} against the Layout order, {len(loops)} cycles"
        + (f", {len(unlisted)} modules not listed" if unlisted else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
