#!/usr/bin/env node
// Runs ONNX Runtime (CPU, via onnxruntime-node) on an ONNX model and a Prova inputs file, times it,
// and writes the outputs in Prova's tensor JSON format, so Prova.Compare can put both engines side by side.
//
//   node bench.js <model.onnx> <inputs.json> [--threads N] [--warmup W] [--iters I]
//                 [--min-seconds S] [--max-seconds S] [--out outputs.json]
//       one job; prints one JSON result line.
//   node bench.js --jobs jobs.json
//       a JSON array of jobs ({model, inputs, threads, warmup, iters, minSeconds, maxSeconds, out});
//       prints one JSON result line per job.
//   node bench.js --serve
//       reads one JSON job per stdin line and answers with one JSON result line per job on stdout
//       (Prova.Compare drives it this way so start-up is paid once and rows stay sequential).
//
// A result line: {"ok": true, "model": ..., "threads": N, "iterations": I, "medianMs": m, "p99Ms": p,
// "meanMs": a, "minMs": lo, "loadMs": l, "ortVersion": "1.30.0"} or {"ok": false, "error": "..."}.
'use strict';

const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

const ORT_VERSION = require('onnxruntime-node/package.json').version;

// Prova JSON dtype name -> [typed array constructor, ORT tensor type].
const DTYPES = {
  float32: [Float32Array, 'float32'],
  float64: [Float64Array, 'float64'],
  int8: [Int8Array, 'int8'],
  uint8: [Uint8Array, 'uint8'],
  int16: [Int16Array, 'int16'],
  uint16: [Uint16Array, 'uint16'],
  int32: [Int32Array, 'int32'],
  int64: [BigInt64Array, 'int64'],
  uint64: [BigUint64Array, 'uint64'],
  bool: [Uint8Array, 'bool'],
};

function toOrtTensor(name, t) {
  const entry = DTYPES[t.dtype];
  if (!entry) {
    throw new Error(`input '${name}': unsupported dtype '${t.dtype}'`);
  }
  const [Ctor, type] = entry;
  let data;
  if (Ctor === BigInt64Array || Ctor === BigUint64Array) {
    data = Ctor.from(t.data, (v) => BigInt(v));
  } else if (t.dtype === 'bool') {
    data = Uint8Array.from(t.data, (v) => (v ? 1 : 0));
  } else {
    data = Ctor.from(t.data);
  }
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`input '${name}': shape [${t.shape}] needs ${count} elements but data has ${data.length}`);
  }
  return new ort.Tensor(type, data, t.shape);
}

function fromOrtTensor(t) {
  let data;
  if (t.type === 'int64' || t.type === 'uint64') {
    data = Array.from(t.data, (v) => Number(v));
  } else if (t.type === 'bool') {
    data = Array.from(t.data, (v) => v !== 0);
  } else {
    // Float32 values widen exactly to JS numbers; JSON keeps them exact (shortest double form).
    data = Array.from(t.data);
  }
  return { dtype: t.type, shape: Array.from(t.dims), data };
}

// Streams {"outputs": {...}} to a file: one JSON.stringify of many large tensors can exceed V8's string limit.
function writeOutputs(path, names, results) {
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, '{"outputs":{');
    names.forEach((name, k) => {
      const t = fromOrtTensor(results[name]);
      fs.writeSync(fd, `${k > 0 ? ',' : ''}${JSON.stringify(name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":${JSON.stringify(t.shape)},"data":[`);
      const chunk = 1 << 16;
      for (let i = 0; i < t.data.length; i += chunk) {
        const part = JSON.stringify(t.data.slice(i, i + chunk));
        fs.writeSync(fd, (i > 0 ? ',' : '') + part.slice(1, -1));
      }
      fs.writeSync(fd, ']}');
    });
    fs.writeSync(fd, '}}');
  } finally {
    fs.closeSync(fd);
  }
}

function readInputs(path) {
  const doc = JSON.parse(fs.readFileSync(path, 'utf8'));
  const inputs = doc.inputs ?? doc;
  const feeds = {};
  for (const [name, t] of Object.entries(inputs)) {
    feeds[name] = toOrtTensor(name, t);
  }
  return feeds;
}

function percentile(sorted, p) {
  // Nearest-rank percentile on sorted samples.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function runJob(job) {
  const threads = job.threads ?? 1;
  const warmup = job.warmup ?? 5;
  const minIters = job.iters ?? 20;
  const minSeconds = job.minSeconds ?? 0;
  const maxSeconds = job.maxSeconds ?? Infinity;
  const maxIters = job.maxIters ?? 100000;

  const t0 = nowMs();
  const session = await ort.InferenceSession.create(job.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = nowMs() - t0;
  try {
    const feeds = readInputs(job.inputs);
    let results;
    for (let i = 0; i < warmup; i++) {
      results = await session.run(feeds);
    }
    const samples = [];
    const start = nowMs();
    for (;;) {
      const a = nowMs();
      results = await session.run(feeds);
      const b = nowMs();
      samples.push(b - a);
      const elapsed = (b - start) / 1000;
      const enough = samples.length >= minIters && elapsed >= minSeconds;
      const outOfTime = elapsed >= maxSeconds && samples.length >= 3;
      if (enough || outOfTime || samples.length >= maxIters) {
        break;
      }
    }
    if (job.out) {
      writeOutputs(job.out, session.outputNames, results);
    }
    const sorted = samples.slice().sort((x, y) => x - y);
    return {
      ok: true,
      model: job.model,
      threads,
      iterations: samples.length,
      medianMs: median(sorted),
      p99Ms: percentile(sorted, 99),
      meanMs: samples.reduce((s, x) => s + x, 0) / samples.length,
      minMs: sorted[0],
      loadMs,
      ortVersion: ORT_VERSION,
    };
  } finally {
    await session.release();
  }
}

async function runSafely(job) {
  try {
    return await runJob(job);
  } catch (e) {
    return { ok: false, model: job.model, error: String(e && e.message ? e.message : e) };
  }
}

function parseArgs(argv) {
  const opts = { positional: [] };
  const names = {
    '--threads': 'threads', '--warmup': 'warmup', '--iters': 'iters', '--out': 'out',
    '--min-seconds': 'minSeconds', '--max-seconds': 'maxSeconds', '--max-iters': 'maxIters', '--jobs': 'jobs',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--serve') {
      opts.serve = true;
    } else if (a === '--version') {
      opts.version = true;
    } else if (a === '--help' || a === '-h') {
      opts.help = true;
    } else if (names[a]) {
      if (i + 1 >= argv.length) {
        throw new Error(`${a} needs a value`);
      }
      const v = argv[++i];
      opts[names[a]] = a === '--out' || a === '--jobs' ? v : Number(v);
      if (typeof opts[names[a]] === 'number' && !Number.isFinite(opts[names[a]])) {
        throw new Error(`${a} needs a number, got '${v}'`);
      }
    } else if (a.startsWith('--')) {
      throw new Error(`unknown option ${a}`);
    } else {
      opts.positional.push(a);
    }
  }
  return opts;
}

const USAGE = 'usage: node bench.js <model.onnx> <inputs.json> [--threads N] [--warmup W] [--iters I] '
  + '[--min-seconds S] [--max-seconds S] [--out outputs.json] | --jobs jobs.json | --serve | --version';

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (opts.version) {
    console.log(JSON.stringify({ ortVersion: ORT_VERSION, node: process.version }));
    return 0;
  }
  if (opts.serve) {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    console.log(JSON.stringify({ ready: true, ortVersion: ORT_VERSION, node: process.version }));
    for await (const line of rl) {
      if (line.trim().length === 0) {
        continue;
      }
      let job;
      try {
        job = JSON.parse(line);
      } catch (e) {
        console.log(JSON.stringify({ ok: false, error: `bad job line: ${e.message}` }));
        continue;
      }
      console.log(JSON.stringify(await runSafely(job)));
    }
    return 0;
  }
  if (opts.jobs) {
    const jobs = JSON.parse(fs.readFileSync(opts.jobs, 'utf8'));
    let failed = 0;
    for (const job of jobs) {
      const r = await runSafely(job);
      failed += r.ok ? 0 : 1;
      console.log(JSON.stringify(r));
    }
    return failed === 0 ? 0 : 1;
  }
  if (opts.positional.length !== 2) {
    console.error(USAGE);
    return 2;
  }
  const r = await runSafely({
    model: opts.positional[0],
    inputs: opts.positional[1],
    threads: opts.threads,
    warmup: opts.warmup,
    iters: opts.iters,
    minSeconds: opts.minSeconds,
    maxSeconds: opts.maxSeconds,
    maxIters: opts.maxIters,
    out: opts.out,
  });
  console.log(JSON.stringify(r));
  return r.ok ? 0 : 1;
}

main().then((code) => { process.exitCode = code; });
