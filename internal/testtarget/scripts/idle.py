"""Idle target: the main thread calls tick() then sleeps, over and over.

Like a server waiting for work, the main thread spends nearly all its time
blocked in time.sleep() without the GIL. At the line marked BREAK:tick,
counter == 2 * i, where i is the tick number (1, 2, ...).

Progress: the tick number is written to the file named by PYATTACH_PROGRESS.
"""
import os
import time


def report(done):
    """Atomically replace the progress file with the count done so far."""
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.rename(path + ".tmp", path)


def tick(i):
    counter = i * 2
    counter += 1  # BREAK:tick
    return counter


def main():
    i = 0
    while True:
        i += 1
        tick(i)
        report(i)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
