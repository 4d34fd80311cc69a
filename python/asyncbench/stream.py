# stream: source -> K stages -> sink, each link an asyncio.Queue(maxsize=C) (the stdlib's bounded
# channel: put() waits while the queue is full, so a slow sink holds every upstream task back).
#
# * One task per stage (TaskGroup.create_task); the sink runs in the calling task.
# * Items are (value, stamp) tuples; stamp is time.perf_counter_ns() (CLOCK_MONOTONIC on Linux) on every
#   S-th item, else None. None as the item itself is the end-of-stream sentinel.
# * 32-bit unsigned arithmetic is done on Python ints masked with & 0xFFFFFFFF. The stage and sink loops
#   inline transform()/fold() (a Python call per item per hop is measurable); the tests check both forms.

import asyncio
from time import perf_counter_ns

MASK = 0xFFFFFFFF
FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def transform(value):
    """One stage's LCG step: (value * 1664525 + 1013904223) mod 2^32."""
    return (value * 1664525 + 1013904223) & MASK


def fold(h, value):
    """One step of the sink's FNV-1a-style checksum."""
    return ((h ^ value) * FNV_PRIME) & MASK


async def source(out, n, sample_every):
    for seq in range(n):
        stamped = sample_every and seq % sample_every == 0
        await out.put((seq, perf_counter_ns() if stamped else None))
    await out.put(None)


async def stage(inp, out):
    while (item := await inp.get()) is not None:
        value, stamp = item
        await out.put(((value * 1664525 + 1013904223) & MASK, stamp))
    await out.put(None)


async def run(opts, ready):
    n = opts.items
    pause_every = opts.pause_every if opts.variant == "slow-consumer" else 0
    pause = opts.pause_ms / 1000
    links = [asyncio.Queue(maxsize=opts.capacity) for _ in range(opts.stages + 1)]
    samples = []
    h = FNV_OFFSET
    received = 0
    ready()
    async with asyncio.TaskGroup() as group:
        start = perf_counter_ns()
        group.create_task(source(links[0], n, opts.sample_every))
        for k in range(opts.stages):
            group.create_task(stage(links[k], links[k + 1]))
        sink = links[-1]
        while (item := await sink.get()) is not None:
            value, stamp = item
            h = ((h ^ value) * FNV_PRIME) & MASK
            if stamp is not None:
                samples.append(perf_counter_ns() - stamp)
            received += 1
            if received == n:
                end = perf_counter_ns()
            if pause_every and received % pause_every == 0:
                await asyncio.sleep(pause)
    return {
        "items": n,
        "checksum": h,
        "elapsed_ms": round((end - start) / 1e6, 3),
        "latency_samples_ns": samples,
    }
