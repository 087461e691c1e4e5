"""Target program of pyattach's benchmark (bench/).

Usage: python target.py HEARTBEAT_FILE

Two threads:

* heartbeat: wakes every millisecond and records the gap since its previous
  wake-up in HEARTBEAT_FILE, a memory-mapped ring the benchmark reads from
  outside. Recording is a memory write, not a system call, so measuring
  disturbs the target little; and the benchmark can read the ring while the
  target is stopped. A gap longer than the sleep is time the thread could
  not run: the whole process stopped by ptrace, or the GIL held by someone
  else (a debugger being imported, say). The thread is marked as one of
  pydevd's own so that debugpy neither traces it nor suspends it at a
  breakpoint: a breakpoint stopping the heartbeat is the user's doing, not
  the attach's.

* main: calls hit() every 2 ms; the benchmark's breakpoint is the line
  marked BREAK. serve() keeps BIG, a large dict, in a local variable, for the
  variables throughput test.

File layout (little-endian):
  header:  magic[8] "PYABENCH", beats int64 (how many gaps recorded), last_ns int64
  entries: RING x (start_ns int64, end_ns int64); gap i is at i % RING
Times are CLOCK_MONOTONIC nanoseconds (time.monotonic_ns).
"""

import mmap
import os
import struct
import sys
import threading
import time

MAGIC = b"PYABENCH"
HEADER = struct.Struct("<8sqq")
ENTRY = struct.Struct("<qq")
RING = 65536  # a minute of beats

BIG_ITEMS = 1000
BIG_VALUE = "x" * 900


def heartbeat(buf):
    me = threading.current_thread()
    me.is_pydev_daemon_thread = True
    me.pydev_do_not_trace = True
    now = time.monotonic_ns
    sleep = time.sleep
    pack_entry = ENTRY.pack_into
    pack_header = HEADER.pack_into
    beats = 0
    last = now()
    while True:
        sleep(0.001)
        t = now()
        pack_entry(buf, HEADER.size + (beats % RING) * ENTRY.size, last, t)
        beats += 1
        pack_header(buf, 0, MAGIC, beats, t)
        last = t


def hit(n):
    return n + 1  # BREAK


def main():
    serve(sys.argv[1])


def serve(path):
    """Beat into the heartbeat file at path, and call hit() for ever."""
    size = HEADER.size + RING * ENTRY.size
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, size)
    buf = mmap.mmap(fd, size)
    os.close(fd)
    threading.Thread(target=heartbeat, args=(buf,), name="heartbeat", daemon=True).start()

    big = {"key%04d" % i: BIG_VALUE for i in range(BIG_ITEMS)}
    n = 0
    while True:
        n = hit(n)
        time.sleep(0.002)


if __name__ == "__main__":
    main()
