#!/usr/bin/env python3
"""Tests of scripts/module-graph.py's parser and rules on small fixtures: a path the parser misses
would let an upward import through unseen. Run: python3 scripts/test_module_graph.py"""
import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("module_graph", os.path.join(HERE, "module-graph.py"))
mg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mg)

MODULES = {
    (),
    ("cli",),
    ("cmd",),
    ("cmd", "a"),
    ("cmd", "b"),
    ("cmd", "b", "args"),
    ("low",),
    ("lower",),
    ("folder",),
    ("folder", "child"),
}


def used(text, here=(), modules=MODULES):
    """{(module path, line)} a file in module `here` uses, resolved."""
    out = set()
    for segs, line, inline, is_use in mg.used_paths(text):
        path = mg.resolve(segs, tuple(here) + tuple(inline), is_use, modules)
        if path is not None:
            out.add(("::".join(mg.owner(path, modules)), line))
    return out


class Parser(unittest.TestCase):
    def test_plain_and_grouped_uses(self):
        text = "use crate::low::Thing;\nuse crate::{lower, cmd::{a::run, b::{self, args::X}}};\n"
        self.assertEqual(used(text), {("low", 1), ("lower", 2), ("cmd::a", 2), ("cmd::b", 2), ("cmd::b::args", 2)})

    def test_a_grouped_use_over_lines_gives_each_leaf_its_line(self):
        text = "pub(crate) use crate::{\n    low::A,\n    cmd::{\n        a::B,\n    },\n};\n"
        self.assertEqual(used(text), {("low", 2), ("cmd::a", 4)})

    def test_super_self_and_child_paths(self):
        self.assertEqual(used("use super::a::run;\n", ("cmd", "b")), {("cmd::a", 1)})
        self.assertEqual(used("use super::super::a::X;\n", ("cmd", "b", "args")), {("cmd::a", 1)})
        self.assertEqual(used("use self::child::X;\n", ("folder",)), {("folder::child", 1)})
        self.assertEqual(used("use child::X;\n", ("folder",)), {("folder::child", 1)})
        self.assertEqual(used("use super::*;\n", ("folder", "child")), {("folder", 1)})

    def test_paths_written_in_the_code(self):
        text = "fn f() {\n    let x = crate::cmd::a::fetch(1);\n    super::b::label(&x);\n}\n"
        self.assertEqual(used(text, ("cmd", "a")), {("cmd::a", 2), ("cmd::b", 3)})
        self.assertEqual(used("fn g() -> crate::low::T { todo!() }\n"), {("low", 1)})

    def test_external_crates_and_std_are_not_modules(self):
        self.assertEqual(used("use std::io;\nuse serde::Deserialize;\nuse ::regex_lite::Regex;\n"), set())

    def test_comments_strings_and_chars_hide_nothing_and_invent_nothing(self):
        text = (
            "// use crate::cmd::a;\n"
            "/* crate::cmd::a /* nested */ crate::cmd::b */\n"
            'let s = "crate::cmd::a \\" crate::cmd::b";\n'
            'let r = r#"crate::cmd::a " still raw"#;\n'
            "let q = '\"'; let e = '\\''; let u = '\\u{1F600}';\n"
            "fn f<'a>(x: &'a str) -> &'static str { crate::low::g(x) }\n"
            "/// crate::cmd::b in a doc comment\n"
            "use crate::lower::Z;\n"
        )
        self.assertEqual(used(text), {("low", 6), ("lower", 8)})

    def test_test_items_are_left_out_and_what_follows_them_is_not(self):
        text = (
            "#[cfg(test)]\nmod tests {\n    use crate::cmd::a;\n    fn t() { crate::cmd::b::x(); }\n}\n"
            "#[cfg(test)]\nfn helper() { crate::cmd::a::y(); }\n"
            "#[cfg(test)]\nuse crate::cmd::b;\n"
            "#[cfg(not(test))]\nuse crate::low::Kept;\n"
            "#[derive(Debug)]\nstruct S(crate::lower::T);\n"
        )
        self.assertEqual(used(text), {("low", 11), ("lower", 13)})

    def test_macro_crate_and_visibility_paths_are_not_imports(self):
        text = "macro_rules! m { () => { $crate::cmd::a::x() } }\npub(in crate::cmd) fn f() {}\n"
        self.assertEqual(used(text), set())

    def test_inline_modules_resolve_super_from_inside(self):
        text = "mod signals {\n    use super::helper;\n    use super::super::a::x;\n}\nuse crate::low::Y;\n"
        self.assertEqual(used(text, ("cmd", "b")), {("cmd::b", 2), ("cmd::a", 3), ("low", 5)})


LAYOUT = """Intro.

Layout. Imports point down.

```
src/main.rs             the top
src/cmd/                commands
src/cli.rs              the command line
src/low.rs, lower.rs    two on one line
src/folder/             a folder
                        (a continuation line)
exception: src/low.rs -> cli::Args    plain data
```
"""


def files(**texts):
    out = {}
    for fname, text in texts.items():
        path = fname.replace("__", "/") + ".rs"
        out["src/" + path] = (mg.file_to_module(path), text)
    return out


class Rules(unittest.TestCase):
    def setUp(self):
        self.layers, self.exceptions = mg.parse_layout(LAYOUT)

    def test_the_layout_block_is_read(self):
        self.assertEqual(
            self.layers, [{()}, {("cmd",)}, {("cli",)}, {("low",), ("lower",)}, {("folder",)}]
        )
        self.assertEqual(self.exceptions, {("low",): [("cli", "Args")]})

    def test_no_layout_block_is_an_error(self):
        with self.assertRaises(ValueError):
            mg.parse_layout("no block here\n")

    def violations(self, **texts):
        found, _, unlisted = mg.check(files(**texts), self.layers, self.exceptions)
        return [(mg.name(f), mg.name(t), fn, line, why.split()[1]) for f, t, fn, line, why in found], unlisted

    def test_down_sideways_and_the_exception_pass(self):
        found, unlisted = self.violations(
            main="use crate::cmd::a;\n",
            cmd__a="use crate::{cli::X, low::Y};\n",
            cli="use crate::low::Y;\n",
            low="use crate::lower::Z;\nuse crate::cli::Args;\n",
            lower="use crate::low::W;\nuse crate::folder::child::V;\n",
            folder__mod="pub mod child;\n",
            folder__child="use super::*;\n",
        )
        self.assertEqual((found, unlisted), ([], set()))

    def test_upward_and_command_to_command_imports_are_named_with_file_and_line(self):
        found, _ = self.violations(
            cmd__a="use crate::cmd::{b, b::args};\n\nfn f() { crate::cmd::b::run() }\n",
            cmd__b="use super::a::x;\n",
            cmd__b__args="",
            cli="use crate::cmd::b::args::Flags;\n",
            low="use crate::cli::Other;\n",
            folder__mod="fn f() { crate::lower::g() }\n",
            lower="",
        )
        self.assertEqual(
            sorted(found),
            [
                ("cli", "cmd::b::args", "src/cli.rs", 1, "up"),
                ("cmd::a", "cmd::b", "src/cmd/a.rs", 1, "command"),
                ("cmd::a", "cmd::b", "src/cmd/a.rs", 3, "command"),
                ("cmd::a", "cmd::b::args", "src/cmd/a.rs", 1, "command"),
                ("cmd::b", "cmd::a", "src/cmd/b.rs", 1, "command"),
                ("folder", "lower", "src/folder/mod.rs", 1, "up"),
                ("low", "cli", "src/low.rs", 1, "up"),
            ],
        )

    def test_a_file_the_layout_does_not_list_is_reported(self):
        _, unlisted = self.violations(newfile="fn f() {}\n")
        self.assertEqual(unlisted, {("newfile",)})

    def test_a_cycle_within_one_line_is_found(self):
        fs = files(low="use crate::lower::A;\n", lower="use crate::low::B;\n")
        _, edges, _ = mg.check(fs, self.layers, self.exceptions)
        self.assertEqual(mg.cycles(mg.entry_edges(edges, self.layers)), [[("low",), ("lower",)]])


class Repository(unittest.TestCase):
    def test_contributing_lists_every_module_of_src(self):
        fs, layers, exceptions = mg.load(mg.REPO)
        _, _, unlisted = mg.check(fs, layers, exceptions)
        self.assertEqual(unlisted, set())


if __name__ == "__main__":
    unittest.main()
