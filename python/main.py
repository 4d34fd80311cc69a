# asyncbench for CPython: one program, two event loops.
#
# * Runtime: a single-threaded asyncio event loop (`threads` = 1). ASYNCBENCH_LOOP selects it:
#   `asyncio` (default) = the standard library loop (epoll selector); `uvloop` = uvloop (libuv), passed to
#   asyncio.Runner as its loop_factory. Everything else is the same code, so the two differ only by loop.
# * Both implementations run from the same venv interpreter (target/asyncbench/python-venv), so the
#   comparison is the same CPython binary and the same site-packages; only the loop changes.
# * Primitives: an asyncio.Protocol, or asyncio.start_server streams when ASYNCBENCH_ECHO_API=streams
#   (echo), TaskGroup.create_task + asyncio.sleep (fanout), asyncio.Queue(maxsize=C) per link (stream), Task.cancel / asyncio.timeout (cancel).
#   Details at the top of each workload file.
# * No tuning: default GC, no debug mode, default task factory; stdout carries JSON lines only.
#
# Usage: python main.py <echo|fanout|stream> [--flag value]...  (see docs/PROTOCOL.md)

import asyncio
import os
import platform
import sys
from types import SimpleNamespace

from asyncbench import cancel, echo, emit, fanout, stream


def fail(message):
    """Bad usage: one line on stderr, exit status 2."""
    print(f"asyncbench-python: {message}", file=sys.stderr)
    sys.exit(2)


def integer(lo, hi=None):
    def parse(flag, text):
        if text.isascii() and text.isdigit():
            value = int(text)
            if value >= lo and (hi is None or value <= hi):
                return value
        bound = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"
        fail(f"{flag} must be {bound}, got {text!r}")

    return parse


def bind_address(flag, text):
    try:
        return echo.parse_bind(text)
    except ValueError as e:
        fail(str(e))


def choice(*names):
    def parse(flag, text):
        if text not in names:
            fail(f"{flag} must be one of {'|'.join(names)}, got {text!r}")
        return text

    return parse


# Every workload's flags: name -> (parser, default). Defaults only matter when run by hand.
# `--pause-every 0` / `--sample-every 0` mean "never".
WORKLOADS = {
    "echo": {"port": (integer(0, 65535), 0), "bind": (bind_address, "127.0.0.1")},
    "fanout": {
        "tasks": (integer(1), 10_000),
        "sleep-ms": (integer(0), 1000),
        "variant": (choice("bare", "state"), "bare"),
    },
    "stream": {
        "items": (integer(1, 2**32), 100_000),
        "stages": (integer(1), 4),
        "capacity": (integer(1), 64),
        "variant": (choice("balanced", "slow-consumer"), "balanced"),
        "pause-every": (integer(0), 10_000),
        "pause-ms": (integer(0), 10),
        "sample-every": (integer(0), 1000),
        "warmup-items": (integer(0, 2**32), 0),
        "min-ms": (integer(0), 0),
    },
    "cancel": {
        "variant": (choice("mass", "deadline", "safety"), "mass"),
        "tasks": (integer(1), 10_000),
        "ops": (integer(1), 100_000),
        "timeout-ms": (integer(1), 20),
        "concurrency": (integer(1), 1000),
        "seed": (integer(0, 2**64 - 1), 1),
        "items": (integer(0), 20_000),
        "idiom": (choice("safe", "unsafe"), "safe"),
    },
}
RUNNERS = {"echo": echo.run, "fanout": fanout.run, "stream": stream.run, "cancel": cancel.run}


def parse_args(argv):
    if not argv:
        fail(f"missing workload ({'|'.join(WORKLOADS)})")
    workload, rest = argv[0], argv[1:]
    spec = WORKLOADS.get(workload)
    if spec is None:
        fail(f"unknown workload {workload!r} (expected {'|'.join(WORKLOADS)})")
    values = {name: default for name, (_, default) in spec.items()}
    for k in range(0, len(rest), 2):
        flag = rest[k]
        name = flag[2:] if flag.startswith("--") else None
        if name not in spec:
            fail(f"unknown flag {flag!r} for workload {workload}")
        if k + 1 == len(rest):
            fail(f"{flag} needs a value")
        values[name] = spec[name][0](flag, rest[k + 1])
    return workload, SimpleNamespace(**{n.replace("-", "_"): v for n, v in values.items()})


def select_loop():
    """Return (loop_factory, runtime label) for ASYNCBENCH_LOOP."""
    python = f"CPython {platform.python_version()}"
    kind = os.environ.get("ASYNCBENCH_LOOP", "asyncio")
    if kind == "asyncio":
        return None, f"{python} asyncio"
    if kind == "uvloop":
        import uvloop  # only python-uvloop needs it installed

        return uvloop.new_event_loop, f"{python} + uvloop {uvloop.__version__}"
    fail(f"ASYNCBENCH_LOOP must be asyncio or uvloop, got {kind!r}")


def select_echo_api():
    """The echo idiom named by ASYNCBENCH_ECHO_API (the manifest sets it; see asyncbench/echo.py)."""
    api = os.environ.get("ASYNCBENCH_ECHO_API", "protocol")
    if api not in echo.APIS:
        fail(f"ASYNCBENCH_ECHO_API must be one of {'|'.join(echo.APIS)}, got {api!r}")
    return api


def main():
    workload, opts = parse_args(sys.argv[1:])
    loop_factory, runtime = select_loop()
    if workload == "echo":
        opts.echo_api = select_echo_api()

    def ready(**fields):
        emit({"event": "ready", "workload": workload, **fields, "runtime": runtime, "threads": 1})

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(RUNNERS[workload](opts, ready))
    if result is not None:
        emit({"event": "result", "workload": workload, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
