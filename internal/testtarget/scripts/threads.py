"""Threaded target: the main thread waits forever; a worker thread ticks.

The main thread is blocked in a lock wait without the GIL (pending calls
never run there), while the thread named "worker" calls step() then sleeps.
At the line marked BREAK:step, value == i + 100, where i is the step number.

Progress: the step number is written to the file named by PYATTACH_PROGRESS.
"""
import os
import threading
import time


def step(i):
    value = i + 100
    value -= 1  # BREAK:step
    return value


def worker(path):
    i = 0
    while True:
        i += 1
        step(i)
        if path:
            with open(path + ".tmp", "w") as f:
                f.write("%d\n" % i)
            os.rename(path + ".tmp", path)
        time.sleep(0.05)


def main():
    thread = threading.Thread(
        target=worker, name="worker", args=(os.environ.get("PYATTACH_PROGRESS"),)
    )
    thread.daemon = True
    thread.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
