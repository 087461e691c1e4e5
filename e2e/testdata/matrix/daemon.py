"""Behaviour 7, a daemon: its own session, standard streams on /dev/null.

At start-up the process leaves its parent's session (setsid) and points
file descriptors 0, 1 and 2 at /dev/null, as a daemon does, then prints a
line every 20 ms that nobody sees unless a debugger redirects its output.
It keeps its PID (no double fork), so the test can attach to the process it
started. At the line marked BREAK:daemon, line is the text just printed.

Progress: the number of lines printed, in the file named by
PYATTACH_PROGRESS.
"""
import os
import time


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def daemonize():
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def emit(n):
    line = "daemon heartbeat %d" % n
    print(line, flush=True)
    return line  # BREAK:daemon


def main():
    daemonize()
    n = 0
    while True:
        n += 1
        emit(n)
        report(n)
        time.sleep(0.02)


if __name__ == "__main__":
    main()
