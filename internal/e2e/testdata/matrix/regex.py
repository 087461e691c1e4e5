"""Behaviour 5, the GIL held inside C for long stretches.

The only thread runs a pathological regular expression, (x+x+)+y against a
run of x's, whose backtracking takes time exponential in the run's length;
the re module's C engine keeps the GIL throughout, so the thread is back in
the interpreter (where pending calls and GIL hand-overs happen) only briefly
between two searches. The length is calibrated at start-up so that one
search takes at least MATRIX_STRETCH seconds (default 2). At the line
marked BREAK:regex, searches == the number of searches done and found is
None.

Progress: the number of searches done, in the file named by
PYATTACH_PROGRESS.
"""
import os
import re
import time

PATTERN = re.compile(r"(x+x+)+y")


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def calibrate(stretch):
    """The shortest run of x's whose search takes at least stretch seconds."""
    n = 16
    while True:
        start = time.monotonic()
        PATTERN.match("x" * n)
        if time.monotonic() - start >= stretch:
            return n
        n += 1


def between(searches, found):
    done = searches
    return done  # BREAK:regex


def main():
    text = "x" * calibrate(float(os.environ.get("MATRIX_STRETCH", "2")))
    searches = 0
    while True:
        found = PATTERN.match(text)
        searches += 1
        between(searches, found)
        report(searches)


if __name__ == "__main__":
    main()
