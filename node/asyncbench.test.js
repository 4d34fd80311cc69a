'use strict';
// node --test node/ : checksum fold and transform against the docs/PROTOCOL.md test vectors,
// and the real fanout/stream code on small inputs.
const test = require('node:test');
const assert = require('node:assert/strict');
const stream = require('./stream');
const fanout = require('./fanout');

const VECTORS = [
  { n: 10, k: 1, want: 1162576678 },
  { n: 1000, k: 4, want: 3828873421 },
  { n: 100000, k: 4, want: 772495653 },
];

test('transform is one LCG step mod 2^32', () => {
  assert.equal(stream.transform(0), 1013904223);
  assert.equal(stream.transform(0xffffffff), Number((0xffffffffn * 1664525n + 1013904223n) % 2n ** 32n));
});

test('fold matches the test vectors', () => {
  for (const { n, k, want } of VECTORS) {
    let h = stream.FNV_OFFSET;
    for (let seq = 0; seq < n; seq++) {
      let v = seq;
      for (let i = 0; i < k; i++) v = stream.transform(v);
      h = stream.fold(h, v);
    }
    assert.equal(h, want, `N=${n} K=${k}`);
  }
});

test('stream pipeline matches the test vectors', async () => {
  for (const { n, k, want } of VECTORS) {
    for (const slowConsumer of [false, true]) {
      const r = await stream.run({
        items: n, stages: k, capacity: 16, slowConsumer, pauseEvery: 25000, pauseMs: 1, sampleEvery: 100,
      });
      assert.equal(r.checksum, want, `N=${n} K=${k} slow=${slowConsumer}`);
      assert.equal(r.latency_samples_ns.length, Math.ceil(n / 100));
    }
  }
});

test('fanout checksums match the test vectors', async () => {
  assert.equal((await fanout.run(1000, 1, false)).checksum, 499500);
  assert.equal((await fanout.run(1000, 1, true)).checksum, 131059500);
});
