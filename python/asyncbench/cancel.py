# cancel (docs/PROTOCOL.md, issue 16): what giving up costs, and which idioms lose data.
#
# asyncio cancels by throwing CancelledError into a task at the await it is suspended in
# (Task.cancel(), or asyncio.timeout() which cancels the enclosing task and turns that into TimeoutError);
# cleanup is a plain try/finally, which may itself await.
# * mass: N tasks (loop.create_task), each owning a 1 KiB bytearray, awaiting asyncio.sleep(3600) inside
#   try/finally; cancel = Task.cancel() on every task (3.11's TaskGroup has no public cancel-all), then
#   asyncio.wait() for all of them. The finally block whose count reaches N records cancel_ms.
#   Then the task list is dropped and gc.collect() runs before the last phase.
#   Acknowledgements are read with a blocking sys.stdin.readline(): nothing else needs the loop then.
# * deadline: a loop Future per op; a responder task sleeps d_i and sets it unless it is already done
#   (when the timeout won, cancelling the worker's `await fut` cancelled the future itself, and
#   set_result on it would raise InvalidStateError). The worker awaits it under asyncio.timeout(T).
#   Responder tasks are kept in a set until done (the reference the asyncio docs tell you to keep);
#   every one of them is awaited after elapsed_ms, so none is left running at exit.
# * safety: asyncio.Queue(maxsize=16); there is no close() before 3.13, so the producer ends with a
#   sentinel (None). safe: `await q.get()` under asyncio.timeout(1 ms): Queue.get is cancellation-safe
#   (a cancelled get() leaves the item in the queue and passes its wake-up on).
#   unsafe: "receive two, then process" under the same timeout. asyncio.timeout() cancels the enclosed
#   code at whichever await it has reached ("Task Cancellation" and "Timeouts",
#   https://docs.python.org/3/library/asyncio-task.html#task-cancellation); when that is the second
#   get(), the first item, held only in a local, is discarded with it. The same hazard as
#   wait_for(reader.readexactly(n)) losing a partial read.
# Same code on the standard loop and on uvloop (main.py picks the loop).

import asyncio
import gc
import sys
from time import perf_counter

from . import emit
from .fanout import state_buffer

MASK64 = (1 << 64) - 1
END = None  # the safety producer's end-of-stream sentinel


def splitmix64(seed):
    """The protocol's PRNG: yields x_0, x_1, ... for `seed`."""
    state = seed & MASK64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def late_ops(m, seed):
    """late[i] = 1 when op i's response comes after its timeout (x_i % 4 == 0)."""
    rng = splitmix64(seed)
    return bytearray(1 if next(rng) % 4 == 0 else 0 for _ in range(m))


def phase(name):
    """Announce a mass phase, then block until the harness acknowledges it with one stdin line."""
    emit({"event": "phase", "phase": name})
    if not sys.stdin.readline():
        print(f"asyncbench-python: cancel: stdin closed while waiting for the {name} acknowledgement "
              "(the harness went away)", file=sys.stderr)
        sys.exit(1)


async def mass(n):
    loop = asyncio.get_running_loop()
    all_armed = loop.create_future()
    armed = cleanups = checksum = 0
    cancel_end = None

    async def task(i):
        nonlocal armed, cleanups, checksum, cancel_end
        buf = state_buffer(i)
        try:
            armed += 1
            if armed == n:
                all_armed.set_result(None)
            await asyncio.sleep(3600)
        finally:
            checksum += i + buf[1023]
            cleanups += 1
            if cleanups == n:
                cancel_end = perf_counter()

    phase("start")
    tasks = [loop.create_task(task(i)) for i in range(n)]
    await all_armed
    phase("armed")
    t0 = perf_counter()
    for t in tasks:
        t.cancel()
    await asyncio.wait(tasks)
    cancel_ms = (cancel_end - t0) * 1000
    del tasks
    gc.collect()
    phase("cancelled")
    return {"variant": "mass", "tasks": n, "cleanups": cleanups, "cleanup_checksum": checksum,
            "cancel_ms": round(cancel_ms, 3)}


async def deadline(m, p, timeout_ms, seed):
    late = late_ops(m, seed)
    timeout = timeout_ms / 1000
    delays = (max(timeout_ms // 4, 1) / 1000, 4 * timeout_ms / 1000)  # indexed by late[i]
    loop = asyncio.get_running_loop()
    all_responded = loop.create_future()
    responders = set()
    responded = timeouts = response_sum = 0

    async def respond(fut, i):
        nonlocal responded
        await asyncio.sleep(delays[late[i]])
        if not fut.done():  # a timed-out worker's cancelled await cancelled the future
            fut.set_result(i)
        responded += 1
        if responded == m:
            all_responded.set_result(None)

    async def worker(w):
        nonlocal timeouts, response_sum
        for i in range(w, m, p):
            fut = loop.create_future()
            r = loop.create_task(respond(fut, i))
            responders.add(r)
            r.add_done_callback(responders.discard)
            try:
                async with asyncio.timeout(timeout):
                    value = await fut
            except TimeoutError:
                timeouts += 1
            else:
                response_sum += value

    start = perf_counter()
    async with asyncio.TaskGroup() as group:
        for w in range(min(p, m)):
            group.create_task(worker(w))
    elapsed = perf_counter() - start
    await all_responded  # every late responder has run to its end
    return {"variant": "deadline", "ops": m, "timeouts": timeouts, "response_sum": response_sum,
            "elapsed_ms": round(elapsed * 1000, 3)}


# The producer sleeps SAFETY_PAUSE_S after every SAFETY_BURST puts (odd, and longer than the 1 ms
# tick, as in every language: docs/PROTOCOL.md, "variant safety").
SAFETY_BURST = 63
SAFETY_PAUSE_S = 0.002


async def safety(k, unsafe):
    queue = asyncio.Queue(maxsize=16)
    received = checksum = ticks = 0

    async def produce():
        for v in range(k):
            await queue.put(v)
            if (v + 1) % SAFETY_BURST == 0:
                await asyncio.sleep(SAFETY_PAUSE_S)
        await queue.put(END)

    def take(v):
        nonlocal received, checksum
        received += 1
        checksum += v

    async def consume_safe():
        nonlocal ticks
        while True:
            try:
                async with asyncio.timeout(0.001):
                    v = await queue.get()
            except TimeoutError:
                ticks += 1
                continue
            if v is END:
                return
            take(v)

    async def consume_two_at_a_time():  # UNSAFE: see the comment at the top
        nonlocal ticks
        while True:
            try:
                async with asyncio.timeout(0.001):
                    a = await queue.get()
                    b = END if a is END else await queue.get()
            except TimeoutError:
                ticks += 1
                continue
            for v in (a, b):
                if v is END:
                    return
                take(v)

    async with asyncio.TaskGroup() as group:
        group.create_task(produce())
        group.create_task(consume_two_at_a_time() if unsafe else consume_safe())
    return {"variant": "safety", "idiom": "unsafe" if unsafe else "safe", "items": k, "received": received,
            "checksum": checksum, "ticks": ticks}


async def run(opts, ready):
    ready()
    if opts.variant == "mass":
        return await mass(opts.tasks)
    if opts.variant == "deadline":
        return await deadline(opts.ops, opts.concurrency, opts.timeout_ms, opts.seed)
    return await safety(opts.items, opts.idiom == "unsafe")
