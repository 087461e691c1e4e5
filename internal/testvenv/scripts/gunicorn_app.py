"""A WSGI service that gunicorn serves with sync workers, for pyattach's tests.

Run as a script (with $PYATTACH_GUNICORN_WORKERS workers), it writes its progress
file once and becomes gunicorn's master, listening on a free port of
127.0.0.1; each worker imports this module to serve. A request's answer is
the PID of the worker that served it and the path asked for; /slow/...
takes half a second, so that requests sent at once go to different
workers.
"""
import os
import sys
import time


def handle(path):
    pid = os.getpid()
    reply = "%d %s" % (pid, path)  # BREAK:handler
    return reply


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/slow"):
        time.sleep(0.5)
    body = (handle(path) + "\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    progress = os.environ.get("PYATTACH_PROGRESS")
    if progress:
        with open(progress, "w") as f:
            f.write("1")
    from gunicorn import config
    from gunicorn.app.wsgiapp import run

    here = os.path.dirname(os.path.abspath(__file__))
    # A worker stopped at a breakpoint sends no heartbeat: the timeout
    # must outlast a debugging pause, or the master kills the worker.
    sys.argv = ["gunicorn", "--chdir", here, "--worker-class", "sync", "--workers", os.environ["PYATTACH_GUNICORN_WORKERS"],
                "--bind", "127.0.0.1:0", "--timeout", "300", "--graceful-timeout", "1", "gunicorn_app:app"]
    if hasattr(config, "ControlSocketDisable"):  # gunicorn 24 and newer: one control socket per user, shared by default
        sys.argv.insert(1, "--no-control-socket")
    run()
