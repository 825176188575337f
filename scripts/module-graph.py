#!/usr/bin/env python3
"""Prints the import graph of src/ (which module uses which, by `crate::` paths) and any cycles.

Used to keep the layering of issue 12: every import points down, none runs back up. Exit 1 on a cycle.
Usage: scripts/module-graph.py [--edges]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts == ["main"]:
        return "main"
    return "::".join(parts)


def strip_tests(text):
    # Drop `#[cfg(test)] mod tests { ... }` (unit tests may import anything).
    m = re.search(r"#\[cfg\(test\)\]\n(pub(\(crate\))? )?mod tests", text)
    return text if m is None else text[: m.start()]


def main():
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".rs"):
                p = os.path.join(dirpath, f)
                mods[module_of(p)] = strip_tests(open(p, encoding="utf-8").read())
    names = sorted(mods, key=len, reverse=True)
    edges = {m: set() for m in mods}
    for m, text in mods.items():
        # crate::a::b, crate::{a, b::c}, and super:: inside a folder module
        for path in re.findall(r"crate::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)", text):
            for n in names:
                if path == n or path.startswith(n + "::"):
                    if n != m and not m.startswith(n + "::"):
                        edges[m].add(n)
                    break
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            for item in group.split(","):
                item = item.strip().split("::")[0]
                for n in names:
                    if n == item:
                        if n != m:
                            edges[m].add(n)
                        break
    if "--edges" in sys.argv:
        for m in sorted(edges):
            print(f"{m} -> {', '.join(sorted(edges[m]))}")
    # Cycles: Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in edges:
                continue
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
    for comp in sccs:
        print("cycle:", " <-> ".join(comp))
    if not sccs:
        print("no import cycles among", len(mods), "modules")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
