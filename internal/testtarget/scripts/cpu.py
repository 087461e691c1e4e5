"""CPU-bound target: one thread runs pure Python with no sleeps.

The main thread holds the GIL almost all the time and almost never blocks in
a system call, the hard case for injecting code at a safe point. At the line
marked BREAK:work, total == sum(k * k for k in range(n)).

Progress: the number of work() calls so far, written to the file named by
PYATTACH_PROGRESS every BATCH calls (tens of milliseconds), so that the file
I/O, during which the GIL is released, stays a tiny fraction of the run time.
"""
import os

BATCH = 10000


def work(n):
    total = 0
    for k in range(n):
        total += k * k
    return total  # BREAK:work


def main():
    progress = os.environ.get("PYATTACH_PROGRESS")
    calls = 0
    while True:
        work(50)
        calls += 1
        if progress and calls % BATCH == 0:
            with open(progress + ".tmp", "w") as f:
                f.write("%d\n" % calls)
            os.rename(progress + ".tmp", progress)


if __name__ == "__main__":
    main()
