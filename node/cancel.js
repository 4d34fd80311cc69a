'use strict';
// Workload cancel (docs/PROTOCOL.md, issue 16): what giving up costs, and which idioms lose data.
//
// JavaScript has no task cancellation: a promise cannot be cancelled, only abandoned. What the
// platform offers is AbortController/AbortSignal, which an API must accept and honour itself
// (timers/promises setTimeout does: an abort clears the timer and rejects with an AbortError).
// Promise.race settles with the first promise but leaves every loser running: whatever work a losing
// promise stands for still happens, and its result goes nowhere.
// * mass: N async functions, each with its own 1 KiB Uint8Array, awaiting a 3600 s
//   timers/promises setTimeout that takes the task's own AbortSignal, with try/finally as the cleanup
//   guard; cancel = abort() on every task's AbortController. Not one controller shared by all: an
//   AbortSignal is an EventTarget, whose addEventListener walks every registered listener to reject
//   duplicates, so N timers on one signal cost O(N^2) to arm (measured with node 20: 5k tasks 1.5 s,
//   10k 3.7 s, 20k 20 s; 100k did not arm in 10 minutes). The finally whose count reaches N records cancel_ms; then the
//   promises are dropped and global.gc() runs (node must be started with --expose-gc; the manifest
//   does). Acknowledgements are read synchronously from fd 0: nothing else needs the loop then.
// * deadline: Promise.race between the response promise (resolved by a responder async function
//   after d_i) and a setTimeout promise, the timer cleared when the response wins. When the timeout
//   wins, the responder is the loser Promise.race leaves running: it still sleeps and resolves a
//   promise nobody awaits (harmless); `late_responses` counts those, to show it. The process then
//   waits for every responder before the result (and node would not exit earlier anyway: a pending
//   timer keeps the loop alive). The splitmix64 draws (BigInt) are all made before the timed region.
// * safety: the bounded channel is an object-mode PassThrough (Node's own bounded buffer; capacity
//   16 split like stream.js: readable side 8, writable side 9), the producer honouring write()'s
//   backpressure with once('drain'); the consumer reads through the stream's async iterator, racing
//   next() against a 1 ms ticker (timers/promises setInterval's async iterator, whose pending next()
//   is kept until a tick wins; a periodic tick, like Go's time.Ticker and C#'s Ticker, so its phase
//   does not follow the receives). The producer sleeps 2 ms after every 63 writes.
//   safe: the pending next() promise is kept across iterations and raced again after a tick.
//   unsafe: a fresh it.next() in every Promise.race. Async iterators queue next() calls, so each
//   abandoned next() still takes the next item when one arrives, and nobody reads it: one item lost
//   per tick that won. The hazard is Promise.race's own (MDN, Promise.race: the other promises are
//   not cancelled; "Using Promise.race() to implement request timeout"), with async iterators'
//   request queueing (ECMAScript, AsyncGenerator.prototype.next / AsyncGeneratorEnqueue).
const fs = require('node:fs');
const { once } = require('node:events');
const { PassThrough } = require('node:stream');
const { setInterval: every, setTimeout: sleep } = require('node:timers/promises');

const MASK64 = (1n << 64n) - 1n;

/** The protocol's PRNG: returns next() yielding x_0, x_1, ... as BigInt. */
function splitmix64(seed) {
  let state = BigInt(seed) & MASK64;
  return () => {
    state = (state + 0x9E3779B97F4A7C15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & MASK64;
    return z ^ (z >> 31n);
  };
}

/** late[i] = 1 when op i's response comes after its timeout (x_i % 4 == 0). */
function lateOps(m, seed) {
  const next = splitmix64(seed);
  const late = new Uint8Array(m);
  for (let i = 0; i < m; i++) late[i] = (next() & 3n) === 0n ? 1 : 0;
  return late;
}

/** A blocking line reader on a file descriptor (the harness's acknowledgements); null at EOF. */
function syncLineReader(fd = 0) {
  const chunk = Buffer.alloc(4096);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let pending = '';
  return () => {
    for (;;) {
      const nl = pending.indexOf('\n');
      if (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        return line;
      }
      let n;
      try {
        n = fs.readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        if (err.code === 'EAGAIN') { // a non-blocking stdin (e.g. a terminal): wait 1 ms, retry
          Atomics.wait(pause, 0, 0, 1);
          continue;
        }
        if (err.code === 'EOF') return null;
        throw err;
      }
      if (n === 0) return null;
      pending += chunk.toString('latin1', 0, n);
    }
  };
}

function phase(emit, readLine, name) {
  emit({ event: 'phase', phase: name });
  if (readLine() === null) {
    process.stderr.write(`asyncbench-node: cancel: stdin closed while waiting for the ${name} acknowledgement (the harness went away)\n`);
    process.exit(1);
  }
}

async function mass(n, emit, readLine, collect) {
  phase(emit, readLine, 'start');
  let armed = 0;
  let cleanups = 0;
  let checksum = 0;
  let cancelEnd = 0n;
  let allArmed;
  const armedPromise = new Promise((resolve) => { allArmed = resolve; });

  async function task(i, signal) {
    const buf = new Uint8Array(1024);
    for (let j = 0; j < 1024; j++) buf[j] = (i + j) & 0xff;
    try {
      if (++armed === n) allArmed();
      await sleep(3_600_000, undefined, { signal });
    } catch (err) {
      if (err.name !== 'AbortError') throw err;
    } finally {
      checksum += i + buf[1023];
      if (++cleanups === n) cancelEnd = process.hrtime.bigint();
    }
  }

  let controllers = new Array(n);
  let tasks = new Array(n);
  for (let i = 0; i < n; i++) {
    controllers[i] = new AbortController();
    tasks[i] = task(i, controllers[i].signal);
  }
  await armedPromise;
  phase(emit, readLine, 'armed');
  const t0 = process.hrtime.bigint();
  for (const controller of controllers) controller.abort();
  await Promise.all(tasks);
  const cancelMs = Number(cancelEnd - t0) / 1e6;
  controllers = null;
  tasks = null;
  collect();
  phase(emit, readLine, 'cancelled');
  return {
    event: 'result', workload: 'cancel', variant: 'mass', tasks: n, cleanups,
    cleanup_checksum: checksum, cancel_ms: cancelMs,
  };
}

const TIMEOUT = Symbol('timeout');

async function deadline(m, p, timeoutMs, seed) {
  const late = lateOps(m, seed);
  const delays = [Math.max(Math.floor(timeoutMs / 4), 1), 4 * timeoutMs]; // indexed by late[i]
  let timeouts = 0;
  let responseSum = 0; // a double: exact up to 2^53, i.e. for M up to about 1.3e8
  let responded = 0;
  let lateResponses = 0;
  let allResponded;
  const respondedPromise = new Promise((resolve) => { allResponded = resolve; });

  async function respond(i, slot) {
    await sleep(delays[late[i]]);
    slot.resolve(i); // resolving a promise nobody awaits any more is harmless
    if (slot.abandoned) lateResponses++;
    if (++responded === m) allResponded();
  }

  async function worker(w) {
    for (let i = w; i < m; i += p) {
      const slot = { resolve: null, abandoned: false };
      const response = new Promise((resolve) => { slot.resolve = resolve; });
      respond(i, slot);
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, TIMEOUT); });
      const value = await Promise.race([response, timeout]);
      if (value === TIMEOUT) {
        timeouts++;
        slot.abandoned = true; // the responder, Promise.race's loser, runs on regardless
      } else {
        clearTimeout(timer);
        responseSum += value;
      }
    }
  }

  const workers = [];
  const start = process.hrtime.bigint();
  for (let w = 0; w < Math.min(p, m); w++) workers.push(worker(w));
  await Promise.all(workers);
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  await respondedPromise;
  return {
    event: 'result', workload: 'cancel', variant: 'deadline', ops: m, timeouts,
    response_sum: responseSum, elapsed_ms: elapsedMs, late_responses: lateResponses,
  };
}

const TICK = Symbol('tick');
// The producer sleeps SAFETY_PAUSE_MS after every SAFETY_BURST sends (odd, and longer than the
// 1 ms tick, as in every language: docs/PROTOCOL.md, "variant safety").
const SAFETY_BURST = 63;
const SAFETY_PAUSE_MS = 2;

async function safety(k, unsafe) {
  const channel = new PassThrough({ objectMode: true, readableHighWaterMark: 8, writableHighWaterMark: 9 });
  const producer = (async () => {
    for (let v = 0; v < k; v++) {
      if (!channel.write(v)) await once(channel, 'drain');
      if ((v + 1) % SAFETY_BURST === 0) await sleep(SAFETY_PAUSE_MS);
    }
    channel.end();
  })();
  const it = channel[Symbol.asyncIterator]();
  let received = 0;
  let checksum = 0;
  let ticks = 0;
  const ticker = every(1, TICK)[Symbol.asyncIterator]();
  let tick = ticker.next();
  let next = unsafe ? null : it.next();
  for (;;) {
    if (unsafe) next = it.next(); // UNSAFE: abandons the previous next() if the tick won
    const r = await Promise.race([next, tick]);
    if (r.value === TICK) {
      ticks++;
      tick = ticker.next();
      continue; // safe: `next` stays pending and is raced again
    }
    if (r.done) break;
    received++;
    checksum += r.value;
    if (!unsafe) next = it.next();
  }
  await ticker.return(); // clears the interval
  await producer;
  return {
    event: 'result', workload: 'cancel', variant: 'safety', idiom: unsafe ? 'unsafe' : 'safe', items: k,
    received, checksum, ticks,
  };
}

module.exports = { splitmix64, lateOps, syncLineReader, mass, deadline, safety };
