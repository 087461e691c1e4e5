"""Target that keeps starting child processes with multiprocessing.

Each child calls child_step() every 50 ms for a few seconds, then exits; the
parent waits for it and starts the next. At the line marked BREAK:child (in
the child), value == n * 1000 + i.

Progress: the number of children started, written to the file named by
PYATTACH_PROGRESS. Python 3 only.
"""
import multiprocessing
import os
import time


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.rename(path + ".tmp", path)


def child_step(n, i):
    value = n * 1000 + i  # BREAK:child
    return value


def child(n):
    for i in range(60):
        child_step(n, i)
        time.sleep(0.05)


def main():
    n = 0
    while True:
        n += 1
        p = multiprocessing.Process(target=child, args=(n,))
        p.start()
        report(n)
        p.join()


if __name__ == "__main__":
    main()
