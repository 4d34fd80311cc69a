#!/usr/bin/env python3
"""A deliberately configurable implementation for the harness's fault-injection tests.

FAKE_MODE picks the behaviour; everything else follows docs/PROTOCOL.md so the harness treats it like any
real implementation. Every started process appends its pid to $FAKE_PIDS so a test can check that none
is left running afterwards.

Modes: ok, crash-at-start, never-ready, wrong-bytes, dies-mid-run, garbage-stdout, ignores-sigterm,
       wrong-checksum (fanout/stream), hang (fanout/stream: never prints a result), spawns-child (echo:
       starts a grandchild that must not outlive the run).
cancel modes: ok, wrong-cleanups (mass reports N-1 cleanups), skips-phases (mass prints its result
       without phases), hang (mass stops after the first phase is acknowledged), loses-safe (the safe idiom
       loses an item), phase-in-fanout (fanout announces a phase, which only cancel may do).
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


def fanout(opts):
    n, d = int(opts["tasks"]), int(opts["sleep-ms"])
    emit('{"event":"ready","workload":"fanout","runtime":"fake","threads":1}')
    if MODE == "phase-in-fanout":
        emit('{"event":"phase","phase":"start"}')
    if MODE == "hang":
        time.sleep(600)
    time.sleep(d / 1000)
    checksum = n * (n - 1) // 2 + (n * 130560 if opts["variant"] == "state" else 0)
    if MODE == "wrong-checksum":
        checksum += 1
    emit('{"event":"result","workload":"fanout","tasks":%d,"checksum":%d,"spawn_ms":0.1,"total_ms":%.1f}' % (n, checksum, d + 0.2))


def stream(opts):
    n, k, s = int(opts["items"]), int(opts["stages"]), int(opts["sample-every"])
    emit('{"event":"ready","workload":"stream","runtime":"fake","threads":1}')
    h = 2166136261
    for seq in range(n):
        v = seq
        for _ in range(k):
            v = (v * 1664525 + 1013904223) & 0xFFFFFFFF
        h = ((h ^ v) * 16777619) & 0xFFFFFFFF
    if MODE == "wrong-checksum":
        h ^= 1
    samples = ",".join(["1000"] * ((n + s - 1) // s))
    emit('{"event":"result","workload":"stream","items":%d,"checksum":%d,"elapsed_ms":1.0,"latency_samples_ns":[%s]}' % (n, h, samples))


def splitmix64(seed):
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        yield z ^ (z >> 31)


def phase(name):
    emit('{"event":"phase","phase":"%s"}' % name)
    line = sys.stdin.readline()
    if line != "continue\n":
        sys.stderr.write(f"fake: expected continue, got {line!r}\n")
        sys.exit(1)


def cancel(opts):
    """Speaks the cancel protocol without real tasks: the harness checks the protocol, not the fake."""
    emit('{"event":"ready","workload":"cancel","runtime":"fake","threads":1}')
    variant = opts["variant"]
    if variant == "mass":
        n = int(opts["tasks"])
        if MODE != "skips-phases":
            phase("start")
            if MODE == "hang":
                time.sleep(600)
            # 4 KiB touched per task, so the harness sees memory grow while "armed".
            held = [bytearray(os.urandom(16)) * 256 for _ in range(n)]
            phase("armed")
            del held
            phase("cancelled")
        cleanups = n - 1 if MODE == "wrong-cleanups" else n
        checksum = sum(i + (i + 1023) % 256 for i in range(n))
        emit('{"event":"result","workload":"cancel","variant":"mass","tasks":%d,"cleanups":%d,"cleanup_checksum":%d,"cancel_ms":0.5}' % (n, cleanups, checksum))
    elif variant == "deadline":
        m, t, p, seed = int(opts["ops"]), int(opts["timeout-ms"]), int(opts["concurrency"]), int(opts["seed"])
        rng = splitmix64(seed)
        timeouts, total, per_worker = 0, 0, [0] * max(1, min(p, m))
        for i in range(m):
            if next(rng) % 4 == 0:
                timeouts += 1
                per_worker[i % len(per_worker)] += t
            else:
                total += i
                per_worker[i % len(per_worker)] += max(1, t // 4)
        elapsed = max(per_worker)
        time.sleep(elapsed / 1000)
        emit('{"event":"result","workload":"cancel","variant":"deadline","ops":%d,"timeouts":%d,"response_sum":%d,"elapsed_ms":%d}' % (m, timeouts, total, elapsed))
    else:
        k, idiom = int(opts["items"]), opts["idiom"]
        lost = 3 if idiom == "unsafe" or MODE == "loses-safe" else 0
        received = k - lost
        checksum = k * (k - 1) // 2 - sum(range(lost))
        emit('{"event":"result","workload":"cancel","variant":"safety","idiom":"%s","items":%d,"received":%d,"checksum":%d,"ticks":1}' % (idiom, k, received, checksum))


def main():
    n = starts()
    if MODE == "crash-at-start":
        sys.stderr.write("fake: crashing on purpose\n")
        sys.exit(7)
    workload, opts = sys.argv[1], flags(sys.argv[2:])
    {"echo": lambda: echo(opts, n), "fanout": lambda: fanout(opts), "stream": lambda: stream(opts),
     "cancel": lambda: cancel(opts)}[workload]()


if __name__ == "__main__":
    main()
