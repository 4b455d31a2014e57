#!/usr/bin/env node
// A `solc` binary for forge, backed by solc-js (npm `solc`), so `forge build/test` works offline.
// Speaks the two things forge uses: `--version` and `--standard-json` (JSON on stdin, JSON on stdout).
// Other flags forge passes (--allow-paths, --base-path, --include-path) are honoured by the import
// callback, which reads files relative to the working directory or any given base/include path.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const solc = require("solc");

const args = process.argv.slice(2);
if (args.includes("--version")) {
    // Same shape as the native binary: forge parses the "Version:" line.
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    process.exit(0);
}
if (!args.includes("--standard-json")) {
    process.stderr.write("solc-forge: only --version and --standard-json are supported\n");
    process.exit(2);
}

const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
    if ((args[i] === "--base-path" || args[i] === "--include-path") && args[i + 1]) roots.push(path.resolve(args[++i]));
}

function findImports(p) {
    for (const r of roots) {
        const full = path.isAbsolute(p) ? p : path.join(r, p);
        if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
    }
    return { error: `File not found: ${p}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
