"""Behaviour 2, CPU-bound: one thread runs pure Python and never blocks.

The main thread holds the GIL all the time; it makes no system call in its
loop, not even to report progress, so the only safe point is the
interpreter's own check for pending calls. At the line marked BREAK:cpu,
acc == sum(k * k for k in range(n)) % 1000003.

Progress: the number of crunch() calls, written through a shared mapping of
the file named by PYATTACH_PROGRESS (a store to memory, not a write()).
"""
import mmap
import os

WIDTH = 20


def crunch(n):
    acc = 0
    for k in range(n):
        acc = (acc + k * k) % 1000003
    return acc  # BREAK:cpu


def progress_view():
    path = os.environ.get("PYATTACH_PROGRESS")
    if not path:
        return None
    with open(path + ".tmp", "wb") as f:
        f.write(b"0".rjust(WIDTH) + b"\n")
    os.replace(path + ".tmp", path)
    with open(path, "r+b") as f:
        return mmap.mmap(f.fileno(), WIDTH + 1)


def main():
    view = progress_view()
    calls = 0
    while True:
        crunch(300)
        calls += 1
        if view is not None and calls % 100 == 0:
            view[:WIDTH] = (b"%d" % calls).rjust(WIDTH)


if __name__ == "__main__":
    main()
