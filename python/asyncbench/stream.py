# stream: source -> K stages -> sink, each link an asyncio.Queue(maxsize=C) (the stdlib's bounded
# channel: put() waits while the queue is full, so a slow sink holds every upstream task back).
#
# * One task per stage (TaskGroup.create_task); the sink runs in the calling task.
# * Items are (value, stamp) tuples; stamp is time.perf_counter_ns() (CLOCK_MONOTONIC on Linux) on every
#   S-th item, else None. None as the item itself is the end-of-stream sentinel.
# * 32-bit unsigned arithmetic is done on Python ints masked with & 0xFFFFFFFF (the first stage's mask also
#   reduces a source seq beyond 2^32, were a --min-ms run ever to get there). The stage and sink loops
#   inline transform()/fold() (a Python call per item per hop is measurable); the tests check both forms.
# * --warmup-items W: one complete, separate pipeline over W items runs first (same code, no pauses,
#   result discarded). --min-ms T: after its N items the source keeps going, 4096 items at a time, until
#   T ms have passed since it started (docs/PROTOCOL.md), so the clock is read once per 4096 items. The
#   sink takes the end time at item N and at every later multiple of 4096: the last reading is the one
#   at the last item. paused_ms: time the slow-consumer sink spent in asyncio.sleep, measured around it.

import asyncio
from time import perf_counter_ns

MASK = 0xFFFFFFFF
FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
STEP = 4096  # a --min-ms run stops on a multiple of this many items


def transform(value):
    """One stage's LCG step: (value * 1664525 + 1013904223) mod 2^32."""
    return (value * 1664525 + 1013904223) & MASK


def fold(h, value):
    """One step of the sink's FNV-1a-style checksum."""
    return ((h ^ value) * FNV_PRIME) & MASK


async def source(out, n, min_ns, start, sample_every):
    seq, end = 0, n
    while True:
        for seq in range(seq, end):
            stamped = sample_every and seq % sample_every == 0
            await out.put((seq, perf_counter_ns() if stamped else None))
        seq = end
        if not min_ns or (seq % STEP == 0 and perf_counter_ns() - start >= min_ns):
            break
        end = (seq // STEP + 1) * STEP
    await out.put(None)


async def stage(inp, out):
    while (item := await inp.get()) is not None:
        value, stamp = item
        await out.put(((value * 1664525 + 1013904223) & MASK, stamp))
    await out.put(None)


async def pipeline(n, stages, capacity, pause_every, pause, sample_every, min_ns):
    """Runs one pipeline; returns the result fields."""
    links = [asyncio.Queue(maxsize=capacity) for _ in range(stages + 1)]
    samples = []
    h = FNV_OFFSET
    received = 0
    paused_ns = paused_at_end_ns = 0
    async with asyncio.TaskGroup() as group:
        start = end = perf_counter_ns()
        group.create_task(source(links[0], n, min_ns, start, sample_every))
        for k in range(stages):
            group.create_task(stage(links[k], links[k + 1]))
        sink = links[-1]
        while (item := await sink.get()) is not None:
            value, stamp = item
            h = ((h ^ value) * FNV_PRIME) & MASK
            if stamp is not None:
                samples.append(perf_counter_ns() - stamp)
            received += 1
            if received >= n and (received == n or not received % STEP):
                end = perf_counter_ns()  # the last such reading is at the last item
                paused_at_end_ns = paused_ns  # a pause after the last item lies outside elapsed
            if pause_every and received % pause_every == 0:
                before = perf_counter_ns()
                await asyncio.sleep(pause)
                paused_ns += perf_counter_ns() - before
    return {
        "items": received,
        "checksum": h,
        "elapsed_ms": round((end - start) / 1e6, 3),
        "paused_ms": round(paused_at_end_ns / 1e6, 3),
        "latency_samples_ns": samples,
    }


async def run(opts, ready):
    pause_every = opts.pause_every if opts.variant == "slow-consumer" else 0
    ready()
    if opts.warmup_items:
        await pipeline(opts.warmup_items, opts.stages, opts.capacity, 0, 0, opts.sample_every, 0)
    return await pipeline(
        opts.items,
        opts.stages,
        opts.capacity,
        pause_every,
        opts.pause_ms / 1000,
        opts.sample_every,
        opts.min_ms * 1_000_000,
    )
