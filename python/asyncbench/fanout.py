# fanout: N tasks spawned with TaskGroup.create_task (asyncio.create_task under structured
# concurrency, the idiomatic 3.11 way to "spawn N and wait for all"), each awaiting asyncio.sleep(D/1000).
#
# * spawn_ms (docs/PROTOCOL.md): time until every task has armed its timer. create_task only schedules
#   a task; its body first runs on a later loop iteration, after the spawn loop. Each task therefore
#   counts itself in right before `await asyncio.sleep`, and the N-th records the time (the loop is
#   single-threaded: a plain counter). loop_ms is the spawn loop alone (create_task N times).
# * Tasks add their contribution to one shared total: the loop is single-threaded, so no lock is needed.
# * `state`: each task owns a fresh 1024-byte bytearray, filled with buf[j] = (i + j) % 256 by copying a
#   slice of a precomputed 0..255 pattern (one C-level copy instead of a 1024-step Python loop). It is a
#   local of the coroutine, so it lives in the task's frame across the await; afterwards sum(buf).

import asyncio
from time import perf_counter

BUF_LEN = 1024
PATTERN = memoryview(bytes(range(256)) * (BUF_LEN // 256 + 1))  # 1280 bytes: any 1024-byte window


def state_buffer(i):
    """A new 1024-byte buffer with buf[j] = (i + j) % 256."""
    start = i % 256
    return bytearray(PATTERN[start : start + BUF_LEN])


async def run(opts, ready):
    n, delay, state = opts.tasks, opts.sleep_ms / 1000, opts.variant == "state"
    total = 0
    armed = 0
    all_armed = None

    def arm():
        nonlocal armed, all_armed
        armed += 1
        if armed == n:
            all_armed = perf_counter()

    async def bare(i):
        nonlocal total
        arm()
        await asyncio.sleep(delay)
        total += i

    async def with_state(i):
        nonlocal total
        buf = state_buffer(i)
        arm()
        await asyncio.sleep(delay)
        total += i + sum(buf)

    body = with_state if state else bare
    ready()
    start = perf_counter()
    async with asyncio.TaskGroup() as group:
        for i in range(n):
            group.create_task(body(i))
        spawned = perf_counter()
    finished = perf_counter()
    return {
        "tasks": n,
        "checksum": total,
        "spawn_ms": round((all_armed - start) * 1000, 3),
        "loop_ms": round((spawned - start) * 1000, 3),
        "total_ms": round((finished - start) * 1000, 3),
    }
