#!/usr/bin/env python3
"""Writes tests/data/vectors/botocore-answers.json: botocore's reading of every case of the SDK
profile-file vectors in tests/data/vectors/ (see NOTICE.md there), which src/config/vectors.rs holds
our reader to. Run with the botocore to compare against on the path:

    python3 scripts/botocore-vectors.py [--check]

Each answer is what botocore's session sees: the config file through configloader.load_config, the
credentials file through raw_config_parse laid over the profiles key by key (session.full_config).
A file botocore refuses is {"error": true}.
"""
import json
import os
import sys
import tempfile

import botocore
from botocore import configloader

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "vectors")
OUT = os.path.join(ROOT, "botocore-answers.json")


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def answer(config, credentials):
    """config/credentials: bytes, or None for a file that does not exist."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for name, data in (("config", config), ("credentials", credentials)):
            path = os.path.join(d, name)
            if data is not None:
                with open(path, "wb") as f:
                    f.write(data)
            paths.append(path)
        try:
            try:
                full = configloader.load_config(paths[0])
            except botocore.exceptions.ConfigNotFound:
                full = {"profiles": {}}
            try:
                creds = configloader.raw_config_parse(paths[1])
            except botocore.exceptions.ConfigNotFound:
                creds = {}
        except botocore.exceptions.ConfigParseError:
            return {"error": True}
        profiles = full.get("profiles", {})
        for name, values in creds.items():
            profiles.setdefault(name, {}).update(values)
        return {
            "profiles": profiles,
            "sso_sessions": full.get("sso_sessions", {}),
            "services": full.get("services", {}),
        }


def text(v):
    return None if v is None else v.encode("utf-8")


def cases():
    for suite in ("smithy-rs/profile-parser-tests.json", "aws-sdk-kotlin/parser-tests.json"):
        tests = json.loads(read(suite))["tests"]
        for i, t in enumerate(tests):
            inp = t["input"]
            yield suite, i, t["name"], text(inp.get("configFile")), text(inp.get("credentialsFile"))
    tests = json.loads(read("botocore/cases.json"))["tests"]
    for i, t in enumerate(tests):
        yield "botocore/cases.json", i, t["name"], read(os.path.join("botocore", t["input"]["configFileRef"])), None
    yield "aws-sdk-go-v2/nested_fields", 0, "nested_fields (a credentials file)", None, read("aws-sdk-go-v2/nested_fields")


def main():
    out = {
        "about": "botocore's reading of every case in this folder, written by scripts/botocore-vectors.py",
        "botocore": botocore.__version__,
        "python": sys.version.split()[0],
        "cases": [
            {"suite": suite, "index": i, "name": name, "answer": answer(config, credentials)}
            for suite, i, name, config, credentials in cases()
        ],
    }
    new = json.dumps(out, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            old = json.loads(f.read())
        if old["cases"] != out["cases"]:
            sys.exit(f"{OUT} does not match botocore {botocore.__version__}")
        print(f"{len(out['cases'])} answers match botocore {botocore.__version__}")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(new)
    print(f"wrote {len(out['cases'])} answers of botocore {botocore.__version__}")


if __name__ == "__main__":
    main()
