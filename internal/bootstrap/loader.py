# pyattach loader: what the stub starts on a new thread inside the target.
#
# It is kept small because it travels inside the stub, which the injector
# writes into the target's memory. It proves to pyattach that it was sent by
# this attach (the one-time token), receives the bootstrap's source in the
# reply, and runs it on the same connection. If pyattach is not listening
# any more (a pending call that ran long after its attach was abandoned),
# or refuses it, it starts nothing. It never raises: a traceback would land
# on the program's stderr. _PYATTACH_DONE, when the stub set one, is the
# event a main thread waits on while the bootstrap starts debugpy; it is set
# here on every way out too.


def _load(config, done):
    import json
    import os
    import socket
    import threading

    # Ours, not the program's: debugpy must neither trace this thread nor
    # count it as a reason to keep the session alive.
    me = threading.current_thread()
    me.pydev_do_not_trace = True
    me.is_pydev_daemon_thread = True

    try:
        sock = socket.create_connection(("127.0.0.1", config["port"]), 10)
    except Exception:
        return
    source = None
    try:
        sock.settimeout(30)
        reader = sock.makefile("rb")
        hello = {"token": config["token"], "pid": os.getpid()}
        sock.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": hello}).encode("utf-8") + b"\n")
        reply = json.loads(reader.readline().decode("utf-8") or "{}")
        source = (reply.get("result") or {}).get("source")
    except Exception:
        pass
    if not source:
        sock.close()
        return
    exec(compile(source, "<pyattach bootstrap>", "exec"),
         {"__name__": "_pyattach_bootstrap", "CONFIG": config, "SOCKET": sock, "READER": reader, "DONE": done})


try:
    _load(__import__("json").loads(bytes.fromhex(_PYATTACH_CONFIG).decode("utf-8")), _PYATTACH_DONE)  # noqa: F821 (set by the stub)
except BaseException:
    pass
finally:
    if _PYATTACH_DONE is not None:  # noqa: F821
        _PYATTACH_DONE.set()  # noqa: F821
