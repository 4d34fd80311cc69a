'use strict';
// Workload fanout: N promises, each awaiting a timer of D ms, joined with Promise.all.
//
// In Node a task is an async function call: it runs synchronously up to its first await, and its
// promise is the handle. The timer is timers/promises setTimeout (the promise-returning timer);
// Node keeps all timers of one duration in a single list behind one libuv timer, so N equal timers
// are cheap. Note that Node clamps a 0 ms timer to 1 ms. Promise.all collects every task's return
// value (its contribution) and the sum is taken afterwards; numbers are doubles, exact up to 2^53,
// which covers N(N-1)/2 + 130560·N for N up to about 10^8.
// spawn_ms (docs/PROTOCOL.md): each task counts itself in right before awaiting its timer and the
// N-th records the time (one JavaScript thread: a plain counter). Since a task runs synchronously up
// to that await, the last one arms inside the spawn loop and spawn_ms ends just before loop_ms (the
// loop alone, which also includes the last task's timer call).
// The state variant allocates its own 1024-byte Uint8Array per task (its own ArrayBuffer, not a
// slice of a shared pool as Buffer.allocUnsafe would give), fills it before the timer and sums it
// after, so the buffer is live across the await.
const { setTimeout: sleep } = require('node:timers/promises');

async function run(tasks, sleepMs, state) {
  let armed = 0;
  let allArmed = 0n;
  const arm = () => {
    if (++armed === tasks) allArmed = process.hrtime.bigint();
  };

  async function bareTask(i) {
    arm();
    await sleep(sleepMs);
    return i;
  }

  async function stateTask(i) {
    const buf = new Uint8Array(1024);
    for (let j = 0; j < 1024; j++) buf[j] = (i + j) & 0xff;
    arm();
    await sleep(sleepMs);
    let s = 0;
    for (let j = 0; j < 1024; j++) s += buf[j];
    return i + s;
  }

  const task = state ? stateTask : bareTask;
  const promises = new Array(tasks);
  const start = process.hrtime.bigint();
  for (let i = 0; i < tasks; i++) promises[i] = task(i);
  const spawned = process.hrtime.bigint();
  const results = await Promise.all(promises);
  const finished = process.hrtime.bigint();

  let checksum = 0;
  for (const r of results) checksum += r;
  return {
    event: 'result', workload: 'fanout', tasks, checksum,
    spawn_ms: Number(allArmed - start) / 1e6,
    loop_ms: Number(spawned - start) / 1e6,
    total_ms: Number(finished - start) / 1e6,
  };
}

module.exports = { run };
