// Worker of bench/bench.py: onnxruntime-web's WebAssembly backend under Node, one thread, SIMD.
//
//   node bench/ort_web.mjs SPEC.json  -> JSON on stdout
//
// SPEC: {"node_modules": dir, "models": {name: path}, "input": path (raw float32),
//        "shape": [1, 3, 224, 224], "warmup": n, "runs": n, "warmup_s": seconds (optional)}
// onnxruntime-web is installed by bench.py into an ignored folder (build/bench-node), from
// bench/package.json + package-lock.json, so it is loaded from there, not from bench/.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(join(spec.node_modules, 'noop.js'));
const ort = require('onnxruntime-web');
const version = JSON.parse(readFileSync(join(spec.node_modules, 'onnxruntime-web', 'package.json'), 'utf8')).version;

ort.env.wasm.numThreads = 1;   // no worker threads: the single-thread peer
ort.env.wasm.simd = true;      // fixed-width SIMD (the shipped build is SIMD-only anyway)
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

const raw = readFileSync(spec.input);
const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const out = { version, node: process.version, wasm: {}, models: {} };

for (const [name, path] of Object.entries(spec.models)) {
  const bytes = readFileSync(path);
  let t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const loadMs = performance.now() - t0;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, spec.shape) };
  let result;
  // V8 runs new wasm code in its baseline tier (Liftoff) and tiers hot functions up to TurboFan
  // on background threads. On a 2-core machine that tier-up once outlasted 3 warm-up runs and
  // doubled the first model's median (101 ms, min 48), so warm-up is by count *and* by time.
  const warmupEnd = performance.now() + 1000 * (spec.warmup_s ?? 2);
  for (let i = 0; i < spec.warmup || performance.now() < warmupEnd; i++) result = await session.run(feeds);
  const times = [];
  for (let i = 0; i < spec.runs; i++) {
    t0 = performance.now();
    result = await session.run(feeds);
    times.push(performance.now() - t0);
  }
  const logits = Array.from(result[session.outputNames[0]].data);
  out.models[name] = { load_ms: loadMs, times_ms: times, logits };
  await session.release();
}
out.wasm = { numThreads: ort.env.wasm.numThreads, simd: ort.env.wasm.simd };
process.stdout.write(JSON.stringify(out));
