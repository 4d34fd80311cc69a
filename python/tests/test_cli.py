"""The program as the harness sees it: JSON lines on stdout, one-line usage errors with exit 2."""

import json
import socket
import subprocess
import sys
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
    ],
)
def test_bad_usage(args):
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fanout_json_lines():
    proc = run("fanout", "--tasks", "1000", "--sleep-ms", "0", "--variant", "state")
    assert proc.returncode == 0, proc.stderr
    ready, result = [json.loads(line) for line in proc.stdout.splitlines()]
    assert ready["event"] == "ready" and ready["workload"] == "fanout" and ready["threads"] == 1
    assert ready["runtime"].startswith("CPython ") and ready["runtime"].endswith(" asyncio")
    assert result == {**result, "event": "result", "workload": "fanout", "checksum": 131059500}


def test_echo_round_trip_and_stdin_eof():
    proc = subprocess.Popen(
        [sys.executable, MAIN, "echo", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["port"] > 0
        payload = bytes(range(256)) * 1000
        with socket.create_connection(("127.0.0.1", ready["port"]), timeout=10) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            echoed = b""
            while chunk := conn.recv(65536):
                echoed += chunk
        assert echoed == payload
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == b""
    finally:
        proc.kill()
        proc.wait()
