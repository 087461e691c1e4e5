"""Behaviour 3, many threads: 26 CPU workers and a pool of 26 I/O workers.

The "cpu-N" threads run pure Python in bursts of about half a millisecond
with short sleeps between them (together they keep the GIL busy most of the
time). The main thread queues a request every 10 ms for the pool of "io-N"
threads; whichever takes it passes it through its own socket pair and
answers it in serve(), which updates shared state under a lock. At the line
marked BREAK:serve, name is the name of the thread running it and
len(request) == 8 + seq % 50.

Only one thread at a time runs serve()'s body: pydevd (debugpy 1.8, on
CPython 3.11 and older) can lose the stopped event when two threads reach a
suspend-all breakpoint at the same instant, each suspending the other (see
fabioz/PyDev.Debugger#296), and this fixture tests attaching, not that race.

Progress: requests served plus CPU rounds done, in the file named by
PYATTACH_PROGRESS.
"""
import os
import queue
import socket
import threading
import time

CPU_WORKERS = 26
IO_WORKERS = 26

done = {}
served_lock = threading.Lock()


def crunch(n):
    acc = 0
    for k in range(n):
        acc ^= k * 2654435761 & 0xFFFFFFFF
    return acc


def cpu_worker(name):
    rounds = 0
    while True:
        crunch(3000)
        rounds += 1
        done[name] = rounds
        time.sleep(0.02)


def serve(name, seq, request):
    with served_lock:
        reply = request.upper()
        return len(reply)  # BREAK:serve


def io_worker(name, requests):
    client, server = socket.socketpair()
    served = 0
    while True:
        seq = requests.get()
        client.sendall(b"request:" + b"x" * (seq % 50))
        serve(name, seq, server.recv(4096))
        served += 1
        done[name] = served


def report(total):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % total)
        os.replace(path + ".tmp", path)


def main():
    requests = queue.Queue()
    for i in range(IO_WORKERS):
        name = "io-%d" % i
        threading.Thread(target=io_worker, name=name, args=(name, requests), daemon=True).start()
    for i in range(CPU_WORKERS):
        name = "cpu-%d" % i
        threading.Thread(target=cpu_worker, name=name, args=(name,), daemon=True).start()
    seq = 0
    while True:
        seq += 1
        requests.put(seq)
        time.sleep(0.01)
        if seq % 5 == 0:
            report(sum(done.values()))


if __name__ == "__main__":
    main()
