// Compile a Solidity standard-JSON input (stdin) with solc-js and print {"version", "output"} (stdout).
// Usage: node solc-standard-json.js <path to the solc npm package>
// Every source is given inline by contracts/build.py, so no import callback (and no file access) is needed.
"use strict";

const solcPath = process.argv[2];
if (!solcPath) {
  process.stderr.write("usage: node solc-standard-json.js <solc package dir>\n");
  process.exit(2);
}
const solc = require(solcPath);

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const input = Buffer.concat(chunks).toString("utf8");
  const output = solc.compile(input);
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(output) }));
});
