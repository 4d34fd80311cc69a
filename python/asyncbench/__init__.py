"""asyncbench workloads for CPython (asyncio / uvloop). See main.py for the design notes."""

import json
import sys


def emit(obj):
    """Print one JSON line on stdout and flush it (stdout carries JSON lines only)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()
