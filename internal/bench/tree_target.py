"""Process-tree target of pyattach's benchmark (bench/tree.go).

Usage: python tree_target.py HEARTBEAT_PREFIX WORKERS

Forks WORKERS workers, as a prefork server's master does; the master and
every worker then run target.py's serve() (a heartbeat thread and a loop
that calls hit()) with the heartbeat file HEARTBEAT_PREFIX.PID of its own.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import target  # noqa: E402  (beside this file)


def main():
    prefix, workers = sys.argv[1], int(sys.argv[2])
    for _ in range(workers):
        if os.fork() == 0:
            break
    target.serve("%s.%d" % (prefix, os.getpid()))


if __name__ == "__main__":
    main()
