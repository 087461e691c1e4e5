# pyattach's launcher of debugpy's adapter: runs as pyattach's child, never
# inside the target.
#
# debugpy's own entry point (python -m debugpy.adapter) always opens a
# listening port for DAP clients, even when it talks DAP on its standard
# streams, and makes up the token it expects from the debuggee itself. This
# launcher starts the same adapter with neither: its one DAP client is
# pyattach on stdin/stdout; the debuggee (the target's pydevd, which
# connects out) reaches it through a listening socket pyattach made and
# passes as a file descriptor; and both tokens are pyattach's.
#
# File descriptor 3 is a Unix socket pair with pyattach (the control link):
#   pyattach -> launcher: one JSON line, the configuration (see
#       adapterproc.go: launchConfig); later, messages carrying one file
#       descriptor each: a DAP connection for another client (a child
#       process's session, which pyattach admitted).
#   launcher -> pyattach: one JSON line, {"ready": {...}} or {"error": "..."}.
# When pyattach closes the link (the session is over, or pyattach died),
# the launcher exits.

import json
import os
import socket
import sys
import threading


def configure(link):
    line = b""
    while not line.endswith(b"\n"):
        chunk = link.recv(65536)
        if not chunk:
            sys.exit(0)
        line += chunk
    return json.loads(line.decode("utf-8"))


def say(link, obj):
    link.sendall(json.dumps(obj).encode("utf-8") + b"\n")


def serve_debuggees(servers, listener):
    """debugpy's own accept loop, but each connection is authenticated on
    a thread of its own: a local process that connects and then says
    nothing must not keep the debuggee (or its children) waiting."""
    def accept():
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            try:
                # debugpy's messages are small and sent whole: waiting to
                # coalesce them only delays each by a delayed ACK.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            t = threading.Thread(target=servers.Connection, args=(sock,), name="pyattach-debuggee", daemon=True)
            t.start()

    servers.listener = listener
    t = threading.Thread(target=accept, name="pyattach-accept", daemon=True)
    t.start()


def admit_clients(link, clients):
    """Serve the control link: each message carries a DAP connection of
    another client, which joins this adapter as debugpy's own listener
    would have it join. Returns when pyattach closes the link."""
    while True:
        try:
            data, fds, _, _ = recv_fds(link)
        except OSError:
            return
        if not data and not fds:
            return
        for fd in fds:
            sock = socket.socket(fileno=fd)
            threading.Thread(target=clients.Client, args=(sock,), name="pyattach-client", daemon=True).start()


def recv_fds(sock):
    """socket.recv_fds for Python 3.8 too."""
    import array
    fds = array.array("i")
    data, ancdata, flags, addr = sock.recvmsg(1, socket.CMSG_LEN(16 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - (len(payload) % fds.itemsize)])
    return data, list(fds), flags, addr


def main():
    link = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=3)
    cfg = configure(link)
    # As debugpy's entry point does when it talks DAP on stdio: nobody
    # reads stderr, so it must not fill up.
    sys.stderr = open(os.devnull, "w")
    try:
        sys.path.insert(0, cfg["debugpy_home"])
        import debugpy
        from debugpy import adapter
        from debugpy.common import log
        from debugpy.adapter import clients, servers
        if cfg.get("log_dir"):
            log.log_dir = cfg["log_dir"]
        log.to_file(prefix="debugpy.adapter")
        # No listener for DAP clients: pyattach is the client, on stdio,
        # and admits the others (admit_clients). debugpy reads the name.
        clients.listener = None
        servers.access_token = cfg["server_token"]
        adapter.access_token = cfg["client_token"]
        listener = socket.socket(fileno=cfg["listener_fd"])
        serve_debuggees(servers, listener)
        clients.Client("stdio")
    except BaseException as exc:
        say(link, {"error": "%s: %s" % (type(exc).__name__, exc)})
        raise SystemExit(1)
    say(link, {"ready": {
        "debugpy_version": getattr(debugpy, "__version__", "unknown"),
        "debugpy_home": os.path.dirname(os.path.dirname(os.path.abspath(debugpy.__file__))),
        "python": sys.executable,
        "python_version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    }})
    admit_clients(link, clients)
    # pyattach is done with this adapter: stop taking debuggees, and go.
    # The debuggee's pydevd reads the end of its connection and lets the
    # program run on.
    try:
        listener.close()
    except OSError:
        pass
    os._exit(0)


main()
