"""A multiprocessing.Pool program for pyattach's tests.

The main process maps work() over a pool of two worker processes again and
again and writes how many rounds it has done to its progress file; each
round's results are the inputs doubled.
"""
import multiprocessing
import os
import time


def work(x):
    value = x * 2  # BREAK:poolwork
    return value


if __name__ == "__main__":
    progress = os.environ.get("PYATTACH_PROGRESS")
    with multiprocessing.Pool(2) as pool:
        rounds = 0
        while True:
            assert pool.map(work, range(4)) == [0, 2, 4, 6]
            rounds += 1
            if progress:
                with open(progress + ".tmp", "w") as f:
                    f.write(str(rounds))
                os.replace(progress + ".tmp", progress)
            time.sleep(0.05)
