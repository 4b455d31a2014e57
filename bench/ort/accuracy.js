#!/usr/bin/env node
// Top-1 accuracy of classifiers under ONNX Runtime (CPU) on labelled Prova request files
// ({"inputs": {...}, "labels": [...]}, as `Prova.Trainer inputs` writes them), and the top-1
// agreement between the first model and each other one. Used to check quantized models
// (docs/benchmarks.md, "Fashion-MNIST models").
//
//   node accuracy.js <dir-or-file> <model.onnx> [<model2.onnx> ...]
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function requests(p) {
  const files = fs.statSync(p).isDirectory()
    ? fs.readdirSync(p).filter(f => f.endsWith('.json')).sort().map(f => path.join(p, f))
    : [p];
  return files.map(f => JSON.parse(fs.readFileSync(f, 'utf8')));
}

function argmaxRows(tensor) {
  const classes = tensor.dims[tensor.dims.length - 1];
  const rows = tensor.data.length / classes;
  const out = new Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) {
      if (tensor.data[r * classes + k] > tensor.data[r * classes + best]) best = k;
    }
    out[r] = best;
  }
  return out;
}

async function main() {
  const [data, ...models] = process.argv.slice(2);
  if (!data || models.length === 0) {
    console.error('usage: node accuracy.js <dir-or-file> <model.onnx> [<model2.onnx> ...]');
    process.exit(2);
  }
  const reqs = requests(data);
  const predictions = [];
  for (const m of models) {
    const session = await ort.InferenceSession.create(m, { intraOpNumThreads: 1 });
    const preds = [];
    for (const r of reqs) {
      const feeds = {};
      for (const [name, t] of Object.entries(r.inputs)) {
        feeds[name] = new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
      }
      const out = await session.run(feeds);
      preds.push(...argmaxRows(out[session.outputNames[0]]));
    }
    predictions.push(preds);
  }
  const labels = reqs.flatMap(r => r.labels || []);
  models.forEach((m, i) => {
    const p = predictions[i];
    const acc = labels.length === p.length ? p.filter((x, j) => x === labels[j]).length / p.length : NaN;
    const agree = p.filter((x, j) => x === predictions[0][j]).length / p.length;
    console.log(`${m}: ${p.length} inputs, accuracy ${(acc * 100).toFixed(2)} %, agreement with ${models[0]} ${(agree * 100).toFixed(2)} %`);
  });
}

main().catch(e => { console.error('error: ' + e.message); process.exit(1); });
