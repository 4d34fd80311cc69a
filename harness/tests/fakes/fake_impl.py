#!/usr/bin/env python3
"""A deliberately configurable implementation for the harness's fault-injection tests.

FAKE_MODE picks the behaviour; everything else follows docs/PROTOCOL.md so the harness treats it like any
real implementation. Every started process appends its pid to $FAKE_PIDS so a test can check that none
is left running afterwards.

Modes: ok, crash-at-start, never-ready, wrong-bytes, dies-mid-run, garbage-stdout, ignores-sigterm,
       wrong-checksum (fanout/stream), hang (fanout/stream: never prints a result), spawns-child (echo:
       starts a grandchild that must not outlive the run).
  echo, at start: port-zero, no-port, wrong-workload (ready events that are wrong), port-in-use (its
       bind fails: the port is taken), ignores-stdin-eof (stops on SIGTERM only), binds-wildcard (listens
       on 0.0.0.0 whatever --bind says; every other mode binds the --bind address, default 127.0.0.1).
  echo, during measured trials only (process 3 onwards; verification starts two): extra-stdout (a debug
       line when a connection arrives), stdout-flood (200 000 lines), setsid-escape (a daemon in its own
       session that killpg cannot reach).
  echo, every process: stderr-flood (20 MB of stderr, then works normally).
  fanout: double-ready, result-first, no-exit (prints its result and keeps running), closes-stdout
       (closes stdout after ready and keeps running), segfault (SIGSEGV after ready), sigkill-self
       (SIGKILL after ready: like the OOM killer, without the kernel's OOM evidence), eats-memory
       (allocates 1 GiB in measured trials, for a test that runs the harness in a small memory cgroup).
  cancel: ok, wrong-cleanups (mass reports N-1 cleanups), skips-phases (mass prints its result
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


def record_pid(pid):
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write(f"{pid}\n")


def echo(opts, n):
    trial = n > 2
    if MODE == "stderr-flood":
        chunk = "x" * 999 + "\n"
        for _ in range(20000):
            sys.stderr.write(chunk)
        sys.stderr.flush()
    if MODE == "setsid-escape" and trial:
        import subprocess
        daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                  start_new_session=True, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        record_pid(daemon.pid)
    if MODE == "ignores-sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if MODE == "spawns-child":
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["FAKE_PIDS"], "a") as f:
            f.write(f"{child.pid}\n")
    bind = "0.0.0.0" if MODE == "binds-wildcard" else opts.get("bind", "127.0.0.1")
    srv = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((bind, int(opts.get("port", "0"))))
    srv.listen(512)
    if MODE == "port-in-use":
        taken = socket.socket(srv.family)
        taken.bind((bind, srv.getsockname()[1]))  # raises EADDRINUSE
    if MODE == "never-ready":
        time.sleep(600)
    port = srv.getsockname()[1]
    if MODE == "port-zero":
        emit('{"event":"ready","workload":"echo","port":0,"runtime":"fake","threads":1}')
    elif MODE == "no-port":
        emit('{"event":"ready","workload":"echo","runtime":"fake","threads":1}')
    elif MODE == "wrong-workload":
        emit('{"event":"ready","workload":"fanout","port":%d,"runtime":"fake","threads":1}' % port)
    else:
        emit('{"event":"ready","workload":"echo","port":%d,"runtime":"fake","threads":1}' % port)
    if MODE == "garbage-stdout":
        emit("hello, I am not JSON")
    if MODE == "stdout-flood" and trial:
        sys.stdout.write("".join("flood %d\n" % i for i in range(200000)))
        sys.stdout.flush()

    def stdin_watch():
        if MODE not in ("ignores-sigterm", "ignores-stdin-eof"):
            sys.stdin.read()
            os._exit(0)

    threading.Thread(target=stdin_watch, daemon=True).start()
    if MODE == "dies-mid-run" and n > 2:
        threading.Timer(0.4, lambda: os._exit(3)).start()
    first = True
    while True:
        conn, _ = srv.accept()
        if MODE == "extra-stdout" and trial and first:
            emit("debug: accepted a connection")
        first = False
        threading.Thread(target=serve_conn, args=(conn, MODE == "wrong-bytes"), daemon=True).start()


# fanout mode slow-spawn: spawning (until the last task armed its timer) takes N²/333333 ms,
# superlinear like a runtime whose spawn slows down at large N; slow-spawn-caps-sleep also fails any
# sleep over 500 ms (so a re-run with a longer sleep fails).
def fanout(opts, starts_so_far=0):
    n, d = int(opts["tasks"]), int(opts["sleep-ms"])
    spawn_ms = n * n / 333333 if MODE.startswith("slow-spawn") else 0.1
    checksum = n * (n - 1) // 2 + (n * 130560 if opts["variant"] == "state" else 0)
    if MODE == "wrong-checksum":
        checksum += 1
    result = '{"event":"result","workload":"fanout","tasks":%d,"checksum":%d,"spawn_ms":%.3f,"total_ms":%.1f}' % (n, checksum, spawn_ms, spawn_ms + d + 0.2)
    if MODE == "result-first":
        emit(result)
    emit('{"event":"ready","workload":"fanout","runtime":"fake","threads":1}')
    if MODE == "phase-in-fanout":
        emit('{"event":"phase","phase":"start"}')
    if MODE == "double-ready":
        emit('{"event":"ready","workload":"fanout","runtime":"fake","threads":1}')
    if MODE == "hang":
        time.sleep(600)
    if MODE == "slow-spawn-caps-sleep" and d > 500:
        sys.stderr.write("fake: no sleep over 500 ms\n")
        sys.exit(1)
    if MODE == "closes-stdout":
        os.close(1)
        time.sleep(600)
    if MODE == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if MODE == "eats-memory" and starts_so_far > 4:
        hog = b"x" * (1 << 30)  # noqa: F841 (touches every page)
    if MODE == "sigkill-self" and starts_so_far > 4:  # verification starts four
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep((spawn_ms + d) / 1000)  # the last task armed its timer at spawn_ms and sleeps d from then
    emit(result)
    if MODE == "no-exit":
        time.sleep(600)


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
    {"echo": lambda: echo(opts, n), "fanout": lambda: fanout(opts, n), "stream": lambda: stream(opts),
     "cancel": lambda: cancel(opts)}[workload]()


if __name__ == "__main__":
    main()
