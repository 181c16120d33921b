// Times ONNX Runtime (onnxruntime-node, CPU) on an ONNX model: the peer tod is measured against.
// Usage: node bench/ort_bench.js MODEL.onnx SHAPE(e.g. 1x3x224x224) THREADS WARMUP LOOPS
// Prints one JSON line: {"median_ms":..., "min_ms":..., "rss_mb":...}
const ort = require('onnxruntime-node');

async function main() {
  const [model, shapeStr, threads, warmup, loops] = process.argv.slice(2);
  const shape = shapeStr.split('x').map(Number);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i) * 0.5;
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', data, shape);
  for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < Number(loops); i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const rss = process.memoryUsage().rss / (1024 * 1024);
  console.log(JSON.stringify({ median_ms: times[Math.floor(times.length / 2)], min_ms: times[0], rss_mb: rss }));
}
main().catch((e) => { console.error(e); process.exit(1); });
