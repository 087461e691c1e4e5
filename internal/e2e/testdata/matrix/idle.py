"""Behaviour 1, idle: the main thread sleeps in a loop.

Like a service waiting for work, the only thread spends nearly all its time
blocked in time.sleep() without the GIL, waking every 20 ms to call beat().
At the line marked BREAK:idle, total == 3 * n.

Progress: the number of beats, in the file named by PYATTACH_PROGRESS.
"""
import os
import time


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def beat(n):
    total = n * 3
    return total  # BREAK:idle


def main():
    n = 0
    while True:
        n += 1
        beat(n)
        report(n)
        time.sleep(0.02)


if __name__ == "__main__":
    main()
