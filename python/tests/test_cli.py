"""The program as the harness sees it: JSON lines on stdout, one-line usage errors with exit 2."""

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

MAIN = str(Path(__file__).resolve().parents[1] / "main.py")
ENV = {"ASYNCBENCH_LOOP": "asyncio", "PATH": "/usr/bin:/bin"}


def run(*args):
    return subprocess.run([sys.executable, MAIN, *args], capture_output=True, text=True, timeout=60, env=ENV)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["nope"],
        ["fanout", "--tasks"],
        ["fanout", "--tasks", "0"],
        ["fanout", "--tasks=5"],
        ["fanout", "--variant", "fat"],
        ["stream", "--capacity", "-1"],
        ["echo", "--port", "70000"],
        ["echo", "--bogus", "1"],
        ["echo", "--bind", "0.0.0.0"],
        ["echo", "--bind", "::"],
        ["echo", "--bind", "localhost"],
        ["echo", "--bind"],
    ],
)
def test_bad_usage(args):
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1


# The --bind vectors of docs/PROTOCOL.md (echo), the same in every language's tests.
def test_parse_bind_vectors():
    from asyncbench.echo import parse_bind

    for good in ["127.0.0.1", "10.1.2.3", "::1", "fe80::1", "2001:db8::10"]:
        assert parse_bind(good) == good
    for wildcard in ["0.0.0.0", "::", "0:0::0", "::ffff:0.0.0.0"]:
        with pytest.raises(ValueError, match="wildcard"):
            parse_bind(wildcard)
    for bad in ["", "localhost", "[::1]", "::1%lo", "127.1", "127.0.0.01", "1.2.3.4.5", "127.0.0.1:80"]:
        with pytest.raises(ValueError, match="--bind"):
            parse_bind(bad)


@pytest.mark.parametrize("api", ["protocol", "streams"])
def test_echo_listens_on_the_bind_address_only(api):
    proc = subprocess.Popen(
        [sys.executable, MAIN, "echo", "--port", "0", "--bind", "127.0.0.2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, "ASYNCBENCH_ECHO_API": api},
    )
    try:
        port = json.loads(proc.stdout.readline())["port"]
        socket.create_connection(("127.0.0.2", port), timeout=10).close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_fanout_json_lines():
    proc = run("fanout", "--tasks", "1000", "--sleep-ms", "0", "--variant", "state")
    assert proc.returncode == 0, proc.stderr
    ready, result = [json.loads(line) for line in proc.stdout.splitlines()]
    assert ready["event"] == "ready" and ready["workload"] == "fanout" and ready["threads"] == 1
    assert ready["runtime"].startswith("CPython ") and ready["runtime"].endswith(" asyncio")
    assert result == {**result, "event": "result", "workload": "fanout", "checksum": 131059500}


VENV_PYTHON = Path(__file__).resolve().parents[2] / "target/asyncbench/python-venv/bin/python"


def interpreter(loop):
    """uvloop only exists in the venv the manifest builds; skip its cases when that is absent."""
    if loop == "asyncio":
        return sys.executable
    if not VENV_PYTHON.exists():
        pytest.skip(f"no {VENV_PYTHON} (build python-uvloop first)")
    return str(VENV_PYTHON)


def test_fanout_spawn_and_loop_ms():
    proc = run("fanout", "--tasks", "500", "--sleep-ms", "10", "--variant", "bare")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[1])
    assert 0 <= result["loop_ms"] <= result["spawn_ms"] <= result["total_ms"]


def test_stream_new_flags_json():
    proc = run(
        "stream", "--items", "1000", "--stages", "4", "--capacity", "16", "--variant", "slow-consumer",
        "--pause-every", "500", "--pause-ms", "2", "--sample-every", "100", "--warmup-items", "2000",
        "--min-ms", "0",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[1])
    assert (result["items"], result["checksum"]) == (1000, 3828873421)
    assert result["paused_ms"] >= 2 and len(result["latency_samples_ns"]) == 10


def test_bad_echo_api_is_a_usage_error():
    proc = subprocess.run(
        [sys.executable, MAIN, "echo"], capture_output=True, text=True, timeout=60,
        env={**ENV, "ASYNCBENCH_ECHO_API": "bogus"},
    )
    assert proc.returncode == 2 and "ASYNCBENCH_ECHO_API" in proc.stderr


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("api", ["protocol", "streams"])
def test_echo_round_trip_backpressure_and_stdin_eof(loop, api):
    proc = subprocess.Popen(
        [interpreter(loop), MAIN, "echo", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, "ASYNCBENCH_LOOP": loop, "ASYNCBENCH_ECHO_API": api},
    )
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["port"] > 0 and ready["echo_api"] == api
        # 8 MiB sent by a thread while this one reads slowly at first: the server's write buffer fills,
        # so it must pause reading and resume later without losing or reordering a byte.
        payload = bytes(range(256)) * (32 * 1024)
        with socket.create_connection(("127.0.0.1", ready["port"]), timeout=20) as conn:

            def send():
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)

            sender = threading.Thread(target=send)
            sender.start()
            time.sleep(0.2)
            echoed = bytearray()
            while chunk := conn.recv(65536):
                echoed += chunk
            sender.join()
        assert echoed == payload
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == b""
    finally:
        proc.kill()
        proc.wait()
