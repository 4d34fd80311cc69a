'use strict';
// Workload stream: source -> K stages -> sink as Node object-mode streams joined by stream.pipeline.
//
// Node's bounded channel is a stream's buffer with highWaterMark = C (counted in objects in object
// mode): push()/write() report "full" at C and pipeline stops pulling until the consumer drains, so a
// slow sink holds every stage and the source back. The source is a Readable whose read() produces
// items until push() says full, each stage a Transform, the sink a Writable, all with
// highWaterMark C. Streams rather than async generators: pipeline()'d generators hand items over
// one at a time with no buffer at all (no capacity C), and streams are what Node code uses for this.
// Caveat: a Transform has a readable and a writable buffer, so between two streams up to C items can
// sit in the upstream's readable buffer plus C in the downstream's writable buffer (about 2C per link).
// Items are plain objects {value, stamp}, mutated in place by each stage (ownership passes down the
// pipe). Stamps are ns since a process.hrtime.bigint() base taken before the source starts
// (monotonic), kept as doubles (exact for runs shorter than ~104 days); stamp -1 means none.
const { Readable, Transform, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');

// One LCG step mod 2^32.
function transform(v) {
  return (Math.imul(v, 1664525) + 1013904223) >>> 0;
}

const FNV_OFFSET = 2166136261;
// The sink's order-sensitive FNV-1a-style fold: ((h XOR v) * 16777619) mod 2^32.
function fold(h, v) {
  return Math.imul(h ^ v, 16777619) >>> 0;
}

async function run({ items, stages, capacity, slowConsumer, pauseEvery, pauseMs, sampleEvery }) {
  const base = process.hrtime.bigint();
  const now = () => Number(process.hrtime.bigint() - base);

  let seq = 0;
  const source = new Readable({
    objectMode: true,
    highWaterMark: capacity,
    read() {
      while (seq < items) {
        const item = { value: seq >>> 0, stamp: seq % sampleEvery === 0 ? now() : -1 };
        seq++;
        if (!this.push(item)) return;
      }
      this.push(null);
    },
  });

  const transforms = [];
  for (let k = 0; k < stages; k++) {
    transforms.push(new Transform({
      objectMode: true,
      highWaterMark: capacity,
      transform(item, _encoding, callback) {
        item.value = transform(item.value);
        callback(null, item);
      },
    }));
  }

  let h = FNV_OFFSET;
  let received = 0;
  let elapsedNs = 0;
  const samples = [];
  const sink = new Writable({
    objectMode: true,
    highWaterMark: capacity,
    write(item, _encoding, callback) {
      h = fold(h, item.value);
      received++;
      if (item.stamp >= 0) samples.push(now() - item.stamp);
      if (received === items) elapsedNs = now();
      if (slowConsumer && received % pauseEvery === 0) setTimeout(callback, pauseMs);
      else callback();
    },
  });

  await pipeline(source, ...transforms, sink);
  if (items === 0) elapsedNs = now();
  return {
    event: 'result', workload: 'stream', items, checksum: h,
    elapsed_ms: elapsedNs / 1e6, latency_samples_ns: samples,
  };
}

module.exports = { run, transform, fold, FNV_OFFSET };
