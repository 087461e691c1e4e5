"""Behaviour 8, unusual launches: python -I -S, or a path with spaces and
non-ASCII characters.

The test runs this script with -I -S (isolated mode, no site module, so no
site-packages on sys.path and no debugpy of the target's own), or from a
copy in a directory whose name holds spaces and non-ASCII characters. The
main thread sleeps in a loop like an idle service. At the line marked
BREAK:launched, isolated and no_site mirror sys.flags and here is
os.path.abspath(__file__).

Progress: the number of rounds, in the file named by PYATTACH_PROGRESS.
"""
import os
import sys
import time


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def look(n):
    isolated, no_site = sys.flags.isolated, sys.flags.no_site
    here = os.path.abspath(__file__)
    return n, isolated, no_site, here  # BREAK:launched


def main():
    n = 0
    while True:
        n += 1
        look(n)
        report(n)
        time.sleep(0.02)


if __name__ == "__main__":
    main()
