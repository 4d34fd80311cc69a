'use strict';
// Workload stream: source -> K stages -> sink as Node object-mode streams joined by stream.pipeline.
//
// Node's bounded channel is a stream's buffer, counted in objects in object mode: write() reports
// "full" once a Writable's buffer reaches its highWaterMark and pipeline stops feeding it until it
// drains, so a slow sink holds every stage and the source back. The source is a Readable whose read() produces
// items until push() says full, each stage a Transform, the sink a Writable. Streams rather than
// async generators: pipeline()'d generators hand items over one at a time with no buffer at all (no
// capacity C), and streams are what Node code uses for this.
// Capacity: a link between two streams is the upstream's readable buffer plus the downstream's
// writable buffer, so giving both highWaterMark C (as before) let a link hold about 2C items where
// every other language holds C. Hence C is split: readable sides get R = ceil(C/2), writable sides
// W = C + 1 - R. A writable buffer's count includes the item its stream is still working on, which a
// Transform has already pushed to its readable side, so a link holds R + W - 1 = C items plus at most
// the one in flight, the bound of docs/PROTOCOL.md (the unit test checks it with a stalled sink).
// Why not R = 0, W = C? The source produces inside read(), where Node always buffers pushes; with R = 0
// it yields one item per read() call and its throughput halves. Splitting keeps the source's batches.
// Items are plain objects {value, stamp}, mutated in place by each stage (ownership passes down the
// pipe). Stamps are ns since a process.hrtime.bigint() base taken before the source starts
// (monotonic), kept as doubles (exact for runs shorter than ~104 days); stamp -1 means none.
// --warmup-items W runs one complete, separate pipeline over W items first (same code, no pauses,
// result discarded), so V8 has compiled the hot paths before the timed run. --min-ms T keeps the
// source going past N items until T ms have passed, stopping on a multiple of 4096 items (the clock is
// read once per 4096 items); the sink takes the end time at item N and at every later multiple of
// 4096, so its last reading is the one at the last item. paused_ms: time the slow-consumer sink spent
// waiting for its pause timers, measured around each.
const { Readable, Transform, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');

// A --min-ms run stops on a multiple of this many items.
const STEP = 4096;

// One LCG step mod 2^32.
function transform(v) {
  return (Math.imul(v, 1664525) + 1013904223) >>> 0;
}

const FNV_OFFSET = 2166136261;
// The sink's order-sensitive FNV-1a-style fold: ((h XOR v) * 16777619) mod 2^32.
function fold(h, v) {
  return Math.imul(h ^ v, 16777619) >>> 0;
}

/** How a link's capacity C is split between the upstream readable and downstream writable buffers. */
function split(capacity) {
  const readable = Math.ceil(capacity / 2);
  return { readable, writable: capacity + 1 - readable };
}

/** The source: seq = 0, 1, ... until N items (or, with minNs, the first multiple of STEP after minNs). */
function makeSource({ items, minNs, sampleEvery, capacity, now }) {
  let seq = 0;
  let done = items === 0 && minNs === 0;
  return new Readable({
    objectMode: true,
    highWaterMark: split(capacity).readable,
    read() {
      while (!done) {
        const item = { value: seq >>> 0, stamp: seq % sampleEvery === 0 ? now() : -1 };
        seq++;
        if (seq >= items && (minNs === 0 || (seq % STEP === 0 && now() >= minNs))) done = true;
        if (!this.push(item)) return;
      }
      this.push(null);
    },
  });
}

/** One stage, its two buffers sized by split(capacity). */
function makeStage(capacity) {
  const { readable, writable } = split(capacity);
  return new Transform({
    objectMode: true,
    readableHighWaterMark: readable,
    writableHighWaterMark: writable,
    transform(item, _encoding, callback) {
      item.value = transform(item.value);
      callback(null, item);
    },
  });
}

async function runPipeline({ items, stages, capacity, slowConsumer, pauseEvery, pauseMs, sampleEvery, minMs }) {
  const base = process.hrtime.bigint();
  const now = () => Number(process.hrtime.bigint() - base);

  const source = makeSource({ items, minNs: minMs * 1e6, sampleEvery, capacity, now });
  const transforms = [];
  for (let k = 0; k < stages; k++) transforms.push(makeStage(capacity));

  let h = FNV_OFFSET;
  let received = 0;
  let elapsedNs = 0;
  let pausedNs = 0;
  let pausedAtEndNs = 0; // pauses before the last item: a pause after it lies outside elapsed
  const samples = [];
  const sink = new Writable({
    objectMode: true,
    highWaterMark: split(capacity).writable,
    write(item, _encoding, callback) {
      h = fold(h, item.value);
      received++;
      if (item.stamp >= 0) samples.push(now() - item.stamp);
      if (received >= items && (received === items || received % STEP === 0)) {
        elapsedNs = now();
        pausedAtEndNs = pausedNs;
      }
      if (slowConsumer && received % pauseEvery === 0) {
        const before = now();
        setTimeout(() => {
          pausedNs += now() - before;
          callback();
        }, pauseMs);
      } else {
        callback();
      }
    },
  });

  await pipeline(source, ...transforms, sink);
  if (received === 0) elapsedNs = now();
  return {
    event: 'result', workload: 'stream', items: received, checksum: h,
    elapsed_ms: elapsedNs / 1e6, paused_ms: pausedAtEndNs / 1e6, latency_samples_ns: samples,
  };
}

async function run(config) {
  if (config.warmupItems > 0) {
    await runPipeline({ ...config, items: config.warmupItems, minMs: 0, slowConsumer: false });
  }
  return runPipeline(config);
}

module.exports = { run, transform, fold, split, makeSource, makeStage, FNV_OFFSET, STEP };
