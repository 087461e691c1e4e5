"""A busy program for pyattach's detach test and benchmark (internal/busy).

The main thread and two workers started at once call step() in a loop;
every 1000 calls is a loop. A reporter thread writes, every 100 ms, a JSON
status to the file named by PYATTACH_BUSY_STATUS (and the loops done so
far to PYATTACH_PROGRESS, as pyattach's test fixtures do): the loops, the
process's CPU time, and what each thread last found installed in itself:
its trace and profile functions and, on 3.12+, the sys.monitoring tools.

What belongs to the program, and must outlive a debug session: the
reporter's own profile function, and on 3.12+ sys.monitoring's coverage
tool id, held (with no events) as "own". When the reporter finds a
debugger in itself it starts one more thread, "late", so that a thread
started during a session is checked too; it works little (a loop every
10 ms), so that the copy a debugger attached to keeps the same load as
its twin. The lines marked BREAK:never (in
a function never called) and BREAK:hot (in step(), on a branch never
taken) never run: a breakpoint there makes a debugger trace without ever
stopping.
"""

import json
import os
import sys
import threading
import time

STATUS = os.environ.get("PYATTACH_BUSY_STATUS")
PROGRESS = os.environ.get("PYATTACH_PROGRESS")
MONITORING = getattr(sys, "monitoring", None)

loops = {}  # thread name -> loops done
found = {}  # thread name -> what it last found installed in itself


def step(x):
    if x < 0:
        x = 0  # BREAK:hot
    return x + 1


def never():
    return 0  # BREAK:never


def describe(func):
    return "" if func is None else repr(func)


def installed():
    tools = {}
    if MONITORING is not None:
        for tool in range(6):
            name = MONITORING.get_tool(tool)
            if name is not None:
                tools[str(tool)] = "%s, events %d" % (name, MONITORING.get_events(tool))
    return {"at": time.time(), "trace": describe(sys.gettrace()), "profile": describe(sys.getprofile()), "tools": tools}


def spin(name, pause=0):
    n = count = 0
    while True:
        for _ in range(1000):
            n = step(n)
        count += 1
        loops[name] = count
        if count % 16 == 0 or pause:
            found[name] = installed()
        if pause:
            time.sleep(pause)


def own_profile(frame, event, arg):
    pass


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def report():
    sys.setprofile(own_profile)
    late = None
    while True:
        time.sleep(0.1)
        mine = found["reporter"] = installed()
        if late is None and (mine["trace"] or "pydevd" in str(mine["tools"])):
            late = threading.Thread(target=spin, args=("late", 0.01), name="late", daemon=True)
            late.start()
        total = sum(loops.values())
        status = {"time": time.time(), "cpu": time.process_time(), "loops": total,
                  "late": late is not None, "threads": dict(found)}
        if STATUS:
            write(STATUS, json.dumps(status))
        if PROGRESS and total:
            write(PROGRESS, str(total))


def main():
    if MONITORING is not None:
        MONITORING.use_tool_id(MONITORING.COVERAGE_ID, "own")
    for name in ("worker1", "worker2"):
        threading.Thread(target=spin, args=(name,), name=name, daemon=True).start()
    threading.Thread(target=report, name="reporter", daemon=True).start()
    spin("main")


main()
