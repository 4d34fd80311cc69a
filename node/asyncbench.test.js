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
        warmupItems: 0, minMs: 0,
      });
      assert.equal(r.checksum, want, `N=${n} K=${k} slow=${slowConsumer}`);
      assert.equal(r.latency_samples_ns.length, Math.ceil(n / 100));
    }
  }
});

const BASE = {
  items: 1000, stages: 4, capacity: 8, slowConsumer: false, pauseEvery: 100, pauseMs: 3, sampleEvery: 10,
  warmupItems: 0, minMs: 0,
};

test('--min-ms runs past N and stops on a multiple of 4096', async () => {
  const r = await stream.run({ ...BASE, items: 100, stages: 2, sampleEvery: 1000, minMs: 30 });
  assert.ok(r.items >= 100 && r.items % stream.STEP === 0, `items ${r.items}`);
  assert.ok(r.elapsed_ms >= 30, `elapsed_ms ${r.elapsed_ms}`);
  let h = stream.FNV_OFFSET;
  for (let seq = 0; seq < r.items; seq++) h = stream.fold(h, stream.transform(stream.transform(seq)));
  assert.equal(r.checksum, h);
  assert.equal(r.latency_samples_ns.length, Math.ceil(r.items / 1000));
});

test('the warm-up pipeline is separate and not reported', async () => {
  const r = await stream.run({ ...BASE, warmupItems: 5000 });
  assert.equal(r.items, 1000);
  assert.equal(r.checksum, 3828873421);
  assert.equal(r.latency_samples_ns.length, 100);
});

test('paused_ms covers every pause before the last item, and is 0 when balanced', async () => {
  const slow = await stream.run({ ...BASE, stages: 1, slowConsumer: true });
  // 10 pauses of 3 ms; the one after the last item lies outside elapsed_ms and is not counted.
  assert.ok(slow.paused_ms >= 9 * 3 && slow.paused_ms <= slow.elapsed_ms, `paused_ms ${slow.paused_ms}`);
  assert.equal((await stream.run({ ...BASE, stages: 1 })).paused_ms, 0);
});

test('each link holds at most C items plus one in flight', async () => {
  const { Writable } = require('node:stream');
  const { pipeline } = require('node:stream/promises');
  const stages = 4;
  for (const capacity of [1, 2, 3, 8, 64]) {
    let produced = 0; // with sampleEvery 1 the source stamps every item: one now() call per item
    const source = stream.makeSource({
      items: 1e9, minNs: 0, sampleEvery: 1, capacity, now: () => { produced++; return 0; },
    });
    let received = 0;
    const sink = new Writable({
      objectMode: true,
      highWaterMark: stream.split(capacity).writable,
      write() { received++; }, // never calls back: the sink stalls on its first item
    });
    const ac = new AbortController();
    const links = Array.from({ length: stages }, () => stream.makeStage(capacity));
    const done = pipeline(source, ...links, sink, { signal: ac.signal }).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    const held = produced - received;
    ac.abort();
    await done;
    assert.equal(received, 1);
    // K + 1 links of capacity C, each with at most one more item in flight; and the capacity is used.
    assert.ok(held <= (stages + 1) * (capacity + 1), `C=${capacity}: ${held} items held`);
    assert.ok(held >= (stages + 1) * capacity, `C=${capacity}: only ${held} items held`);
  }
});

test('fanout checksums match the test vectors; spawn_ms is when the last task armed its timer', async () => {
  for (const [state, want] of [[false, 499500], [true, 131059500]]) {
    const r = await fanout.run(1000, 20, state);
    assert.equal(r.checksum, want);
    // Node runs each task up to its await inside the spawn loop: spawn_ms falls inside loop_ms.
    assert.ok(r.spawn_ms > 0 && r.spawn_ms <= r.loop_ms && r.loop_ms <= r.total_ms, JSON.stringify(r));
    assert.ok(r.total_ms >= 20);
  }
});

// The --bind vectors of docs/PROTOCOL.md (echo), the same in every language's tests.
test('echo --bind: literals accepted, wildcards and host names refused', () => {
  const echo = require('./echo');
  for (const good of ['127.0.0.1', '10.1.2.3', '::1', 'fe80::1', '2001:db8::10']) {
    assert.equal(echo.parseBind(good), good);
  }
  for (const wildcard of ['0.0.0.0', '::', '0:0::0', '::ffff:0.0.0.0']) {
    assert.throws(() => echo.parseBind(wildcard), /wildcard/, wildcard);
  }
  for (const bad of ['', 'localhost', '[::1]', '::1%lo', '127.1', '127.0.0.01', '1.2.3.4.5', '127.0.0.1:80']) {
    assert.throws(() => echo.parseBind(bad), /--bind/, bad);
  }
});

test('echo --bind: a wildcard is a one-line usage error with exit 2', () => {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(process.execPath, [require.resolve('./main.js'), 'echo', '--bind', '0.0.0.0'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('echo --bind 127.0.0.2: reachable there, refused on 127.0.0.1', async () => {
  const { spawn } = require('node:child_process');
  const net = require('node:net');
  const child = spawn(process.execPath, [require.resolve('./main.js'), 'echo', '--port', '0', '--bind', '127.0.0.2'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d))));
    const { port } = JSON.parse(line);
    const connect = (host) => new Promise((resolve) => {
      const socket = net.connect(port, host, () => { socket.destroy(); resolve('connected'); });
      socket.on('error', (err) => resolve(err.code));
    });
    assert.equal(await connect('127.0.0.2'), 'connected');
    assert.equal(await connect('127.0.0.1'), 'ECONNREFUSED');
    child.stdin.end();
    assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0);
  } finally {
    child.kill();
  }
});

test('echo: ready line, 8 MiB echoed intact under backpressure, exit 0 on stdin EOF', async () => {
  const { spawn } = require('node:child_process');
  const net = require('node:net');
  const child = spawn(process.execPath, [require.resolve('./main.js'), 'echo', '--port', '0'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d))));
    const ready = JSON.parse(line);
    assert.equal(ready.event, 'ready');
    const payload = Buffer.alloc(8 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const echoed = await new Promise((resolve, reject) => {
      const chunks = [];
      const socket = net.connect(ready.port, '127.0.0.1', () => socket.end(payload));
      socket.pause(); // read nothing for a while: the server must stop reading, then resume
      setTimeout(() => socket.resume(), 200);
      socket.on('data', (d) => chunks.push(d));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
    });
    assert.ok(echoed.equals(payload), `echoed ${echoed.length} bytes`);
    child.stdin.end();
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
  } finally {
    child.kill();
  }
});
