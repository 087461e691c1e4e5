"""Behaviour 4, blocked in a system call with no other thread.

The only thread waits in accept() on a listening loopback socket, with no
timeout: it stays blocked in the kernel, without the GIL, until a client
connects, which only the test does. Each connection is read, counted by
handle(), and closed. At the line marked BREAK:accept, handled == wakeups
and request is what the client sent.

The port is written to the file named by MATRIX_PORT_FILE before the first
progress report. Progress: 1 once listening, then 1 + the number of
connections handled, in the file named by PYATTACH_PROGRESS.
"""
import os
import socket


def report(done):
    path = os.environ.get("PYATTACH_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(path + ".tmp", path)


def handle(wakeups, conn):
    request = conn.recv(1024)
    handled = wakeups
    return handled, request  # BREAK:accept


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port_file = os.environ["MATRIX_PORT_FILE"]
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.replace(port_file + ".tmp", port_file)
    wakeups = 0
    report(1)
    while True:
        conn, _ = listener.accept()
        wakeups += 1
        handle(wakeups, conn)
        conn.close()
        report(1 + wakeups)


if __name__ == "__main__":
    main()
