"""Behaviour 7, a daemon: its own session, standard streams on /dev/null.

The process started is a launcher: it forks the daemon and then waits for
it, as a supervisor does. The daemon leaves the launcher's session and
process group (setsid), points file descriptors 0, 1 and 2 at /dev/null,
writes its PID to the file named by MATRIX_PID_FILE, and prints a line
every 20 ms that nobody sees unless a debugger redirects its output. At the
line marked BREAK:daemon, line is the text just printed.

Progress (the daemon's): the number of lines printed, in the file named by
PYATTACH_PROGRESS.
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


def daemonize():
    """Fork; in the parent, wait for the daemon and exit with its status."""
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    path = os.environ["MATRIX_PID_FILE"]
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(path + ".tmp", path)


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
