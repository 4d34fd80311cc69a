"""Checksum fold, transform and whole workloads against the test vectors in docs/PROTOCOL.md.

Runs on the standard asyncio loop only (no uvloop needed)."""

import asyncio
from types import SimpleNamespace

import pytest

from asyncbench import fanout, stream


def reference_checksum(n, k):
    h = stream.FNV_OFFSET
    for seq in range(n):
        v = seq
        for _ in range(k):
            v = stream.transform(v)
        h = stream.fold(h, v)
    return h


@pytest.mark.parametrize("n,k,expected", [(10, 1, 1162576678), (1000, 4, 3828873421), (100000, 4, 772495653)])
def test_fold_and_transform(n, k, expected):
    assert reference_checksum(n, k) == expected


def test_transform_wraps_to_32_bits():
    assert stream.transform(0) == 1013904223
    assert stream.transform(0xFFFFFFFF) == (0xFFFFFFFF * 1664525 + 1013904223) % 2**32
    assert stream.fold(0, 0) == 0
    assert stream.fold(stream.FNV_OFFSET, 0xFFFFFFFF) < 2**32


@pytest.mark.parametrize("i", [0, 1, 255, 256, 1000, 123457])
def test_state_buffer(i):
    buf = fanout.state_buffer(i)
    assert isinstance(buf, bytearray)
    assert list(buf) == [(i + j) % 256 for j in range(1024)]
    assert sum(buf) == 130560


def run(module, **opts):
    if module is stream:
        opts = {"warmup_items": 0, "min_ms": 0, **opts}
    readies = []
    result = asyncio.run(module.run(SimpleNamespace(**opts), lambda **f: readies.append(f)))
    assert len(readies) == 1
    return result


@pytest.mark.parametrize("variant,expected", [("bare", 499500), ("state", 131059500)])
def test_fanout_vectors(variant, expected):
    result = run(fanout, tasks=1000, sleep_ms=1, variant=variant)
    assert result["tasks"] == 1000
    assert result["checksum"] == expected
    # Tasks first run after the spawn loop, so every task arms its timer after loop_ms.
    assert 0 <= result["loop_ms"] <= result["spawn_ms"] <= result["total_ms"]


@pytest.mark.parametrize("n,k,expected", [(10, 1, 1162576678), (1000, 4, 3828873421), (100000, 4, 772495653)])
@pytest.mark.parametrize("variant", ["balanced", "slow-consumer"])
def test_stream_vectors(n, k, expected, variant):
    if variant == "slow-consumer" and n > 1000:
        pytest.skip("slow-consumer pauses are covered by the small vectors")
    result = run(
        stream,
        items=n,
        stages=k,
        capacity=3,
        variant=variant,
        pause_every=100,
        pause_ms=1,
        sample_every=7,
    )
    assert result["checksum"] == expected
    assert len(result["latency_samples_ns"]) == len(range(0, n, 7))
    assert all(s >= 0 for s in result["latency_samples_ns"])


def test_stream_min_ms_runs_past_n_to_a_multiple_of_4096():
    result = run(
        stream, items=100, stages=2, capacity=8, variant="balanced", pause_every=0, pause_ms=0,
        sample_every=1000, min_ms=30,
    )
    items = result["items"]
    assert items >= 100 and items % stream.STEP == 0
    assert result["elapsed_ms"] >= 30
    assert result["checksum"] == reference_checksum(items, 2)
    assert len(result["latency_samples_ns"]) == len(range(0, items, 1000))


def test_stream_warmup_is_separate_and_not_reported():
    result = run(
        stream, items=1000, stages=4, capacity=8, variant="balanced", pause_every=0, pause_ms=0,
        sample_every=10, warmup_items=5000,
    )
    assert (result["items"], result["checksum"]) == (1000, 3828873421)
    assert len(result["latency_samples_ns"]) == 100


def test_stream_paused_ms_covers_every_pause():
    slow = run(
        stream, items=1000, stages=1, capacity=8, variant="slow-consumer", pause_every=100, pause_ms=3,
        sample_every=100,
    )
    # 10 pauses of 3 ms; the one after the last item lies outside elapsed_ms and is not counted.
    assert 9 * 3 <= slow["paused_ms"] <= slow["elapsed_ms"]
    balanced = run(
        stream, items=1000, stages=1, capacity=8, variant="balanced", pause_every=100, pause_ms=3,
        sample_every=100,
    )
    assert balanced["paused_ms"] == 0
