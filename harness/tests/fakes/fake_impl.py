#!/usr/bin/env python3
"""A deliberately configurable implementation for the harness's fault-injection tests.

FAKE_MODE picks the behaviour; everything else follows docs/PROTOCOL.md so the harness treats it like any
real implementation. Every started process appends its pid to $FAKE_PIDS so a test can check that none
is left running afterwards.

Modes: ok, crash-at-start, never-ready, wrong-bytes, dies-mid-run, garbage-stdout, ignores-sigterm,
       wrong-checksum (fanout/stream), hang (fanout/stream: never prints a result), spawns-child (echo:
       starts a grandchild that must not outlive the run).
"""
import os
import signal
import socket
import sys
import threading
import time

MODE = os.environ.get("FAKE_MODE", "ok")


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def starts():
    """How many processes of this fake have started (including this one)."""
    path = os.environ["FAKE_PIDS"]
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    with open(path) as f:
        return sum(1 for _ in f)


def flags(argv):
    return {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2)}


def serve_conn(conn, wrong):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            if wrong:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            conn.sendall(data)


def echo(opts, n):
    if MODE == "ignores-sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if MODE == "spawns-child":
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["FAKE_PIDS"], "a") as f:
            f.write(f"{child.pid}\n")
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(opts.get("port", "0"))))
    srv.listen(512)
    if MODE == "never-ready":
        time.sleep(600)
    emit('{"event":"ready","workload":"echo","port":%d,"runtime":"fake","threads":1}' % srv.getsockname()[1])
    if MODE == "garbage-stdout":
        emit("hello, I am not JSON")

    def stdin_watch():
        if MODE != "ignores-sigterm":
            sys.stdin.read()
            os._exit(0)

    threading.Thread(target=stdin_watch, daemon=True).start()
    if MODE == "dies-mid-run" and n > 2:
        threading.Timer(0.4, lambda: os._exit(3)).start()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_conn, args=(conn, MODE == "wrong-bytes"), daemon=True).start()


# fanout mode slow-spawn: spawning (until the last task armed its timer) takes N²/333333 ms,
# superlinear like a runtime whose spawn slows down at large N; slow-spawn-caps-sleep also fails any
# sleep over 500 ms (so a re-run with a longer sleep fails).
def fanout(opts):
    n, d = int(opts["tasks"]), int(opts["sleep-ms"])
    spawn_ms = n * n / 333333 if MODE.startswith("slow-spawn") else 0.1
    emit('{"event":"ready","workload":"fanout","runtime":"fake","threads":1}')
    if MODE == "hang":
        time.sleep(600)
    if MODE == "slow-spawn-caps-sleep" and d > 500:
        sys.stderr.write("fake: no sleep over 500 ms\n")
        sys.exit(1)
    time.sleep((spawn_ms + d) / 1000)  # the last task armed its timer at spawn_ms and sleeps d from then
    checksum = n * (n - 1) // 2 + (n * 130560 if opts["variant"] == "state" else 0)
    if MODE == "wrong-checksum":
        checksum += 1
    emit('{"event":"result","workload":"fanout","tasks":%d,"checksum":%d,"spawn_ms":%.3f,"total_ms":%.1f}' % (n, checksum, spawn_ms, spawn_ms + d + 0.2))


# stream follows the protocol's length and timing rules with real waiting: it runs for --min-ms and
# the slow consumer really pauses (timed in paused_ms). Mode exact-items ignores --min-ms.
def stream(opts):
    n, k, s = int(opts["items"]), int(opts["stages"]), int(opts["sample-every"])
    min_ms = int(opts["min-ms"])
    slow = opts["variant"] == "slow-consumer"
    every, pause_ms = int(opts["pause-every"]), int(opts["pause-ms"])
    int(opts["warmup-items"])  # the harness always passes it; a fake has nothing to warm up
    emit('{"event":"ready","workload":"stream","runtime":"fake","threads":1}')
    t0 = time.monotonic()
    h = 2166136261
    seq = paused = 0
    while True:
        v = seq
        for _ in range(k):
            v = (v * 1664525 + 1013904223) & 0xFFFFFFFF
        h = ((h ^ v) * 16777619) & 0xFFFFFFFF
        received = seq + 1
        last = received >= n and (min_ms == 0 or MODE == "exact-items")
        if slow and every and received % every == 0 and not last:
            p0 = time.monotonic()
            time.sleep(pause_ms / 1000)
            paused += (time.monotonic() - p0) * 1000
        seq += 1
        if seq >= n and (min_ms == 0 or MODE == "exact-items"
                         or (seq % 4096 == 0 and (time.monotonic() - t0) * 1000 >= min_ms)):
            break
        if seq >= n and seq % 4096 == 0:
            time.sleep(0.001)  # a fake pipeline need not burn CPU while it waits for --min-ms
    elapsed_ms = (time.monotonic() - t0) * 1000
    if MODE == "wrong-checksum":
        h ^= 1
    samples = ",".join(["1000"] * ((seq + s - 1) // s))
    extra = ',"paused_ms":%.3f' % paused if slow else ""
    emit('{"event":"result","workload":"stream","items":%d,"checksum":%d,"elapsed_ms":%.3f%s,"latency_samples_ns":[%s]}'
         % (seq, h, elapsed_ms, extra, samples))


def main():
    n = starts()
    if MODE == "crash-at-start":
        sys.stderr.write("fake: crashing on purpose\n")
        sys.exit(7)
    workload, opts = sys.argv[1], flags(sys.argv[2:])
    {"echo": lambda: echo(opts, n), "fanout": lambda: fanout(opts), "stream": lambda: stream(opts)}[workload]()


if __name__ == "__main__":
    main()
