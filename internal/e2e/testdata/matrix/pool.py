"""Thread pool target: four ThreadPoolExecutor workers, started long before
any attach, call work(i) over and over without sleeping; the main thread
waits. At the line marked BREAK:pool, x == 2 * i.

Progress: the calls made, in the file named by PYATTACH_PROGRESS; and each
worker's own count, one "name count" line each, in that file's name plus
".threads", so a test can check that every thread makes progress; a
worker that stops says why in that file's name plus ".died".
"""
import concurrent.futures
import os
import threading
import time
import traceback

counts = {}


def work(i):
    x = i * 2
    x += 1  # BREAK:pool
    return x


def worker(k):
    name = threading.current_thread().name
    n = 0
    try:
        while True:
            work(k)
            n += 1
            counts[name] = n
    except BaseException:
        died()
        raise


def died():
    """Say why a worker stopped, in the progress file's name plus ".died"
    (the pool itself keeps the exception only in a future nobody reads)."""
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".died", "a") as f:
            f.write("%s:\n" % threading.current_thread().name)
            traceback.print_exc(file=f)


def report():
    path = os.environ.get("PYATTACH_PROGRESS")
    if not path:
        return
    snapshot = dict(counts)
    with open(path + ".threads.tmp", "w") as f:
        f.write("".join("%s %d\n" % item for item in sorted(snapshot.items())))
    os.replace(path + ".threads.tmp", path + ".threads")
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % sum(snapshot.values()))
    os.replace(path + ".tmp", path)


def main():
    pool = concurrent.futures.ThreadPoolExecutor(4)
    for k in range(4):
        pool.submit(worker, k)
    while True:
        time.sleep(0.05)
        report()


if __name__ == "__main__":
    main()
