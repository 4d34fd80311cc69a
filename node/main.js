'use strict';
// asyncbench-node: the Node.js implementation of docs/PROTOCOL.md (workloads echo, fanout, stream, cancel).
//
// Runtime: Node.js as shipped, one JavaScript thread on libuv's event loop (threads = 1; libuv's
// thread pool is not used by these workloads). No flags such as --max-old-space-size: V8's default
// heap limits and GC are what a Node program gets. CommonJS, no dependencies.
// Flags are parsed with util.parseArgs (the standard library parser; it also accepts --name=value).
// stdout carries JSON lines only, written with process.stdout.write. After the result line the
// process exits by itself when the event loop is empty, never by process.exit(), so even a large
// line to a pipe is fully flushed first (a pending write keeps the loop alive).

const { parseArgs } = require('node:util');
const echo = require('./echo');
const fanout = require('./fanout');
const stream = require('./stream');
const cancel = require('./cancel');

const WORKLOADS = {
  echo: { port: '0', bind: '127.0.0.1' },
  fanout: { tasks: '1000', 'sleep-ms': '1000', variant: 'bare' },
  stream: {
    items: '1000000', stages: '4', capacity: '128', variant: 'balanced',
    'pause-every': '10000', 'pause-ms': '10', 'sample-every': '1000', 'warmup-items': '0', 'min-ms': '0',
  },
  cancel: {
    variant: 'mass', tasks: '10000', ops: '100000', 'timeout-ms': '20', concurrency: '1000', seed: '1',
    items: '20000', idiom: 'safe',
  },
};

function usage(message) {
  process.stderr.write(`asyncbench-node: ${message}\n`);
  process.exit(2);
}

// A pending write keeps the event loop (and so the process) alive until the line is flushed.
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function ready(workload, extra) {
  emit({ event: 'ready', workload, ...extra, runtime: `node ${process.version}`, threads: 1 });
}

// Parses a non-negative decimal integer flag within [min, max], or exits 2.
function int(workload, values, name, min, max = Number.MAX_SAFE_INTEGER) {
  const text = values[name];
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    usage(`${workload}: --${name} must be an integer ${range}, got '${text}'`);
  }
  return n;
}

function oneOf(workload, values, name, choices) {
  if (!choices.includes(values[name])) {
    usage(`${workload}: --${name} must be one of ${choices.join(', ')}, got '${values[name]}'`);
  }
  return values[name];
}

function main(argv) {
  const workload = argv[0];
  if (!Object.hasOwn(WORKLOADS, workload)) {
    usage(`unknown workload '${workload ?? ''}' (expected echo, fanout, stream or cancel)`);
  }
  const options = {};
  for (const [name, fallback] of Object.entries(WORKLOADS[workload])) {
    options[name] = { type: 'string', default: fallback };
  }
  let values;
  try {
    ({ values } = parseArgs({ args: argv.slice(1), options, strict: true, allowPositionals: false }));
  } catch (err) {
    usage(`${workload}: ${err.message.split('\n')[0]}`);
  }

  if (workload === 'echo') {
    const port = int(workload, values, 'port', 0, 65535);
    let host;
    try {
      host = echo.parseBind(values.bind);
    } catch (err) {
      usage(`${workload}: ${err.message}`);
    }
    echo.run(host, port, (p) => ready('echo', { port: p }));
  } else if (workload === 'fanout') {
    const tasks = int(workload, values, 'tasks', 1);
    const sleepMs = int(workload, values, 'sleep-ms', 0);
    const variant = oneOf(workload, values, 'variant', ['bare', 'state']);
    ready('fanout');
    fanout.run(tasks, sleepMs, variant === 'state').then((result) => emit(result));
  } else if (workload === 'cancel') {
    runCancel(values);
  } else {
    const config = {
      items: int(workload, values, 'items', 0, 2 ** 32),
      stages: int(workload, values, 'stages', 1),
      capacity: int(workload, values, 'capacity', 1),
      slowConsumer: oneOf(workload, values, 'variant', ['balanced', 'slow-consumer']) === 'slow-consumer',
      pauseEvery: int(workload, values, 'pause-every', 1),
      pauseMs: int(workload, values, 'pause-ms', 0),
      sampleEvery: int(workload, values, 'sample-every', 1),
      warmupItems: int(workload, values, 'warmup-items', 0, 2 ** 32),
      minMs: int(workload, values, 'min-ms', 0),
    };
    ready('stream');
    stream.run(config).then((result) => emit(result));
  }
}

function runCancel(values) {
  const variant = oneOf('cancel', values, 'variant', ['mass', 'deadline', 'safety']);
  const tasks = int('cancel', values, 'tasks', 1);
  const ops = int('cancel', values, 'ops', 1);
  const timeoutMs = int('cancel', values, 'timeout-ms', 1, 2 ** 31 / 4 - 1); // 4T must fit a Node timer
  const concurrency = int('cancel', values, 'concurrency', 1);
  const items = int('cancel', values, 'items', 0);
  const idiom = oneOf('cancel', values, 'idiom', ['safe', 'unsafe']);
  const seedText = values.seed;
  if (!/^[0-9]+$/.test(seedText) || BigInt(seedText) >= 2n ** 64n) {
    usage(`cancel: --seed must be an integer in 0..2^64-1, got '${seedText}'`);
  }
  if (variant === 'mass' && typeof global.gc !== 'function') {
    usage('cancel: the mass variant collects garbage after cancelling: start node with --expose-gc');
  }
  ready('cancel');
  let run;
  if (variant === 'mass') run = cancel.mass(tasks, emit, cancel.syncLineReader(0), () => global.gc());
  else if (variant === 'deadline') run = cancel.deadline(ops, concurrency, timeoutMs, BigInt(seedText));
  else run = cancel.safety(items, idiom === 'unsafe');
  run.then((result) => emit(result));
}

main(process.argv.slice(2));
