"""Behaviour 9, a target that forks and uses multiprocessing.

Every round the main thread forks a child with os.fork() and starts another
with multiprocessing (the "fork" start method), waits for both, and checks
that both exited with status 0. Each child does a little pure-Python work,
appends "<kind> <pid> ok" to the file named by MATRIX_CHILD_LOG and exits.
At the line marked BREAK:forks, both children of the round have exited and
statuses == [0, 0].

A child that fails, or exits with another status, makes the parent print why
and exit with status 1. When the file named by MATRIX_STOP_FILE exists the
parent finishes its round, prints "forks: stopped after N rounds" and exits
normally.

Progress: the number of rounds done, in the file named by
PYATTACH_PROGRESS.
"""
import multiprocessing
import os
import sys
import time


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def child_work(kind, log):
    total = sum(k * k for k in range(20000))
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, ("%s %d ok %d\n" % (kind, os.getpid(), total)).encode())
    os.close(fd)


def forked_child(log):
    code = 1
    try:
        child_work("fork", log)
        code = 0
    finally:
        os._exit(code)


def exit_code(status):
    """As multiprocessing reports it: the exit status, or -signal."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def one_round(ctx, log):
    pid = os.fork()
    if pid == 0:
        forked_child(log)
    proc = ctx.Process(target=child_work, args=("mp", log))
    proc.start()
    _, status = os.waitpid(pid, 0)
    proc.join()
    statuses = [exit_code(status), proc.exitcode]
    return statuses  # BREAK:forks


def main():
    ctx = multiprocessing.get_context("fork")
    log = os.environ["MATRIX_CHILD_LOG"]
    stop = os.environ["MATRIX_STOP_FILE"]
    rounds = 0
    while not os.path.exists(stop):
        statuses = one_round(ctx, log)
        if statuses != [0, 0]:
            print("forks: children exited with %s in round %d" % (statuses, rounds + 1), flush=True)
            sys.exit(1)
        rounds += 1
        report(rounds)
        time.sleep(0.2)
    print("forks: stopped after %d rounds" % rounds, flush=True)


if __name__ == "__main__":
    main()
