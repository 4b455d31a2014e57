#!/usr/bin/env node
// Compiles contracts/src offline with solc-js (npm `solc`, pinned in package.json) and writes
// contracts/out/<Contract>.json = {"abi", "bytecode", "deployedBytecode"}.
//   node build.mjs          write the artifacts
//   node build.mjs --check  compile and fail (exit 1) when a committed artifact differs from a fresh compile
import { readFileSync, writeFileSync, readdirSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const root = dirname(fileURLToPath(import.meta.url));
const srcDir = join(root, "src");
const outDir = join(root, "out");

// The artifacts other parts of Prova use (Prova.Evm generates bindings from them).
export const ARTIFACTS = [
    "ModelRegistry", "NodeRegistry", "Settlement", "InferenceRequests", "ExampleConsumer", "IProvaConsumer",
    "ExampleChatConsumer", "IProvaGenerationConsumer",
];

// Keep in sync with foundry.toml (optimizer, optimizer_runs, evm_version, bytecode_hash).
export const SETTINGS = {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function compile() {
    const sources = {};
    for (const f of readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
        sources[`src/${f}`] = { content: readFileSync(join(srcDir, f), "utf8") };
    }
    const input = { language: "Solidity", sources, settings: SETTINGS };
    const output = JSON.parse(solc.compile(JSON.stringify(input)));
    const errors = (output.errors ?? []).filter((e) => e.severity === "error");
    for (const e of output.errors ?? []) {
        if (e.severity !== "error" && !/license|unreachable/i.test(e.message)) process.stderr.write(e.formattedMessage);
    }
    if (errors.length > 0) {
        for (const e of errors) process.stderr.write(e.formattedMessage);
        process.exit(2);
    }
    const artifacts = {};
    for (const name of ARTIFACTS) {
        const c = output.contracts[`src/${name}.sol`]?.[name];
        if (!c) throw new Error(`contract ${name} not found in src/${name}.sol`);
        artifacts[name] = JSON.stringify(
            { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, deployedBytecode: "0x" + c.evm.deployedBytecode.object },
            null,
            2,
        ) + "\n";
    }
    return artifacts;
}

const check = process.argv.includes("--check");
const artifacts = compile();
let stale = 0;
if (!check) mkdirSync(outDir, { recursive: true });
for (const [name, text] of Object.entries(artifacts)) {
    const path = join(outDir, `${name}.json`);
    const current = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (current === text) continue;
    if (check) {
        process.stderr.write(`contracts/out/${name}.json differs from a fresh compile: run 'node contracts/build.mjs'\n`);
        stale++;
    } else {
        writeFileSync(path, text);
        process.stdout.write(`wrote contracts/out/${name}.json\n`);
    }
}
if (check && stale > 0) process.exit(1);
if (check) process.stdout.write(`contracts/out: ${Object.keys(artifacts).length} artifacts match a fresh compile (solc ${solc.version()})\n`);
