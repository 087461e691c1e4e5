"""CPU-bound target: one thread runs pure Python and never leaves it.

The main thread holds the GIL all the time and never blocks in a system
call, the hard case for injecting code at a safe point. At the line marked
BREAK:work, total == sum(k * k for k in range(n)).

Progress: the number of work() calls so far, in the file named by
PYATTACH_PROGRESS. The file is written through a shared memory mapping, so
that reporting progress makes no system call and never releases the GIL.
"""
import mmap
import os

WIDTH = 20


def work(n):
    total = 0
    for k in range(n):
        total += k * k
    return total  # BREAK:work


def progress_view():
    """A writable shared mapping of the progress file, or None."""
    path = os.environ.get("PYATTACH_PROGRESS")
    if not path:
        return None
    with open(path + ".tmp", "wb") as f:
        f.write(b"0".rjust(WIDTH) + b"\n")
    os.rename(path + ".tmp", path)
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, WIDTH + 1)
    finally:
        os.close(fd)


def main():
    view = progress_view()
    calls = 0
    while True:
        work(50)
        calls += 1
        if view is not None and calls % 1000 == 0:
            view[:WIDTH] = (b"%d" % calls).rjust(WIDTH)


if __name__ == "__main__":
    main()
