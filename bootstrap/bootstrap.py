# pyattach bootstrap: runs inside the target process.
#
# The injected stub starts a new thread running loader.py, which proves to
# pyattach that it belongs to this attach and receives this source in reply.
# Everything here runs on that new thread and must never raise out of it:
# every outcome is reported to pyattach over the control channel.
#
# Module globals set by the loader: CONFIG (the attach's configuration, see
# bootstrap/render.go for its fields), SOCKET and READER (the control
# channel, on which the loader's hello, id 1, has been answered), and DONE
# (None, or the event a queued stub's main thread waits on until the editor
# has configured the session; see Config.Queued in bootstrap/render.go).
#
# After reporting ready the bootstrap keeps the channel open for as long as
# the debug session lasts. When pyattach closes it (the session ended, or
# pyattach itself is gone) and no other session uses debugpy, it stops
# debugpy: its adapter accepts any local client without authentication, so
# it must not be left listening, and its tracing must not go on slowing the
# program down. CONFIG["keep_debugpy"] is the user's opt-out.

import json
import os
import socket
import sys
import traceback

STATE_MODULE = "_pyattach_state"  # sys.modules entry that survives between attaches
REPLY_TIMEOUT = 30.0
READER_END_WAIT = 1.0  # seconds stop_debugpy waits for pydevd's reader thread to end


class Rejected(Exception):
    """pyattach answered a call with an error, or closed the channel."""


class Failure(Exception):
    """An attach failure with a kind that pyattach maps to an error code."""

    def __init__(self, kind, message):
        Exception.__init__(self, message)
        self.kind = kind


class Channel(object):
    """JSON-RPC 2.0 over TCP, one JSON object per line, as jsonrpc2's plain
    object stream reads and writes them on the Go side. It continues the
    conversation the loader started."""

    def __init__(self, sock, reader):
        self.sock = sock
        self.sock.settimeout(REPLY_TIMEOUT)
        self.reader = reader
        self.next_id = 1

    def notify(self, method, params):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def call(self, method, params):
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            line = self.reader.readline()
            if not line:
                raise Rejected("pyattach closed the control channel")
            reply = json.loads(line.decode("utf-8"))
            if reply.get("id") != self.next_id:
                continue
            if reply.get("error"):
                raise Rejected(reply["error"].get("message", "rejected"))
            return reply.get("result")

    def _send(self, obj):
        self.sock.sendall(json.dumps(obj).encode("utf-8") + b"\n")

    def abandoned(self):
        """Whether pyattach has closed the channel: it gave up on this
        attach (it timed out, or was stopped), so nothing must be started."""
        self.sock.setblocking(False)  # with a timeout set, recv would wait
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(REPLY_TIMEOUT)

    def wait_for_close(self, on_configured):
        """Block until pyattach closes the channel: the session is over.
        pyattach's "configured" notification (the editor has set its
        breakpoints) calls on_configured."""
        self.sock.settimeout(None)
        for line in iter(self.reader.readline, b""):
            try:
                method = json.loads(line.decode("utf-8")).get("method")
            except (ValueError, AttributeError):
                continue
            if method == "configured":
                on_configured()

    def close(self):
        try:
            self.reader.close()
            self.sock.close()
        except Exception:
            pass


def fs_path(hex_path):
    """Decode a path sent as the hex of its raw bytes (paths need not be UTF-8)."""
    if not hex_path:
        return None
    return os.fsdecode(bytes.fromhex(hex_path))


def describe_python():
    return {
        "pid": os.getpid(),
        "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
    }


def import_debugpy(cfg, chan):
    """Import debugpy: from the path the user named, else from the target's
    own environment, else from the copy pyattach supplies. A path we add to
    sys.path is removed again once imported, so the program's own imports
    are unaffected."""
    explicit = fs_path(cfg.get("debugpy_path"))
    if explicit is not None:
        return import_from(explicit, "explicit", chan)
    supplied = fs_path(cfg.get("supplied_path"))
    loaded = sys.modules.get("debugpy")
    if loaded is not None:
        # An earlier session may have imported the supplied copy.
        if supplied is not None and same_dir(package_home(loaded), supplied):
            return loaded, "supplied"
        return loaded, "target"
    try:
        import debugpy
        return debugpy, "target"
    except ImportError:
        pass
    if supplied is None:
        raise Failure("debugpy-missing", "debugpy is not importable in the target")
    return import_from(supplied, "supplied", chan)


def import_from(path, origin, chan):
    if not os.path.isdir(os.path.join(path, "debugpy")):
        raise Failure("debugpy-missing", "no debugpy package in %s" % path)
    loaded = sys.modules.get("debugpy")
    if loaded is not None:
        home = package_home(loaded)
        if same_dir(home, path):
            return loaded, origin
        raise Failure("debugpy-failed", "the target already imported debugpy from %s, not %s" % (home, path))
    chan.notify("progress", {"message": "importing debugpy from %s" % path})
    sys.path.insert(0, path)
    try:
        import debugpy
    finally:
        try:
            sys.path.remove(path)
        except ValueError:
            pass
    return debugpy, origin


def same_dir(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def package_home(module):
    """The sys.path entry a package was imported from."""
    return os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))


def client_connected():
    try:
        import debugpy
        return bool(debugpy.is_client_connected())
    except Exception:
        return False


def state():
    """The state shared by every bootstrap that ever ran in this process,
    created once: setdefault is atomic under the GIL, so two concurrent
    attaches agree on one lock."""
    import threading
    import types
    fresh = types.ModuleType(STATE_MODULE)
    fresh.lock = threading.Lock()
    fresh.report = None   # what the running debugpy was reported as; None when stopped
    fresh.sessions = 0    # open control channels that reported it ready
    fresh.mtime = 0       # the last stopped debugger's breakpoint generation (see stop_debugpy)
    return sys.modules.setdefault(STATE_MODULE, fresh)


class quiet_pydevd(object):
    """Keep pydevd's import-time warnings (e.g. about frozen modules on 3.11+)
    out of the target's own stderr, which belongs to the program; the
    variable is removed again so the program's environment is as it was."""

    NAME = "PYDEVD_DISABLE_FILE_VALIDATION"

    def __enter__(self):
        self.saved = os.environ.get(self.NAME)
        os.environ[self.NAME] = "1"

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop(self.NAME, None)
        else:
            os.environ[self.NAME] = self.saved


def start_debugpy(cfg, chan):
    """Start debugpy, or find the one an earlier attach started, and count
    this session as one of its users."""
    st = state()
    with st.lock:
        if st.report is not None:
            report = dict(st.report)
            report["reused"] = True
            report["client_connected"] = client_connected()
        else:
            with quiet_pydevd():
                report = listen(cfg, chan)
            continue_generations(st)
            st.report = dict(report)
        st.sessions += 1
        return report


def release(cfg):
    """One session is over; stop debugpy if it was the last."""
    st = state()
    with st.lock:
        st.sessions -= 1
        if st.sessions > 0 or st.report is None or cfg.get("keep_debugpy"):
            return
        st.report = None
        st.mtime = debugger_mtime()
        stop_debugpy()


def debugger_mtime():
    import pydevd
    return getattr(pydevd.get_global_debugger(), "mtime", 0)


def continue_generations(st):
    """Start a restarted debugger's breakpoint generations above the last
    one's. pydevd caches, per code object and across debuggers, what it
    found of the breakpoints in it, stamped with the debugger's generation
    (mtime, counted from 0 by each new debugger); a restarted one counting
    from 0 again would take a stale entry for a current one and ignore the
    new breakpoints."""
    import pydevd
    py_db = pydevd.get_global_debugger()
    if py_db is not None and st.mtime:
        py_db.mtime = st.mtime + 1


def stop_debugpy():
    """Stop debugpy as if it had never been started: the process-spawning
    functions pydevd patched get their originals back, pydevd stops tracing
    and disconnects (its adapter process then exits, closing its port), and
    debugpy.listen() may be called again by a later attach."""
    # The process-spawning functions first: a child forked once pydevd has
    # disconnected would try to join an adapter that is gone, and pydevd
    # raises that failure out of os.fork() in the child.
    modules = [sys.modules.get(name) for name in ("os", "subprocess", "_posixsubprocess")]
    for module in modules:
        for name in list(vars(module) if module is not None else ()):
            if name.startswith("original_"):
                setattr(module, name[len("original_"):], getattr(module, name))
                delattr(module, name)
    end_reader()
    import pydevd
    pydevd.stoptrace()
    api = sys.modules.get("debugpy.server.api")
    if api is not None:
        api.listen.called = False


def end_reader():
    """Let pydevd's reader thread end before pydevd.stoptrace() waits for
    it. The reader blocks on pydevd's connection to its adapter, which the
    adapter keeps open between clients, and pydevd closes that connection
    only after waiting half a second for its threads: every stop took
    0.5 s, and an attach right after a detach waited for it. Shutting the
    connection for reading gives the reader its end of stream now; it then
    disposes of pydevd itself (its usual course when the adapter goes), and
    stoptrace() finds that done. Writing stays open, so pydevd's farewell
    to the adapter still goes out. Best effort: it reaches into pydevd's
    internals, and without them stoptrace() simply takes its half second."""
    try:
        import pydevd
        py_db = pydevd.get_global_debugger()
        readers = [t for t in py_db.created_pydb_daemon_threads if t.name == "pydevd.Reader"]
        py_db._client_socket.shutdown(socket.SHUT_RD)
        for reader in readers:
            reader.join(READER_END_WAIT)
    except Exception:
        pass


def listen(cfg, chan):
    debugpy, origin = import_debugpy(cfg, chan)
    version = getattr(debugpy, "__version__", "unknown")
    chan.notify("progress", {"message": "starting debugpy %s" % version})
    log_dir = fs_path(cfg.get("debugpy_log_dir"))
    if log_dir is not None:
        debugpy.log_to(log_dir)
    if cfg.get("sub_process") is not None:
        debugpy.configure(subProcess=bool(cfg["sub_process"]))
    if chan.abandoned():
        raise Failure("abandoned", "pyattach gave up on this attach before debugpy was started")
    try:
        with no_startup_nap(), no_environment_survey(log_dir is not None):
            host, port = debugpy.listen(("127.0.0.1", 0))
    except RuntimeError as exc:
        raise Failure("debugpy-failed", "debugpy.listen() failed: %s" % exc)
    no_delay()
    report = describe_python()
    report.update({
        "debugpy_version": version,
        "debugpy_path": package_home(debugpy),
        "debugpy_origin": origin,
        "host": host,
        "port": port,
        "reused": False,
        "client_connected": False,
    })
    return report


class no_startup_nap(object):
    """Skip the nap pydevd takes once connected to its adapter: it sleeps
    100 ms "to give threads time to start" (PyDB.initialize_network), but
    Thread.start() has already waited for them to start. A tenth of a
    second off every attach. Only that one sleep, called from that method
    on this thread, is skipped; without debugpy's pydevd or its module
    global "time", nothing is changed."""

    def __enter__(self):
        import threading
        try:
            import debugpy.server.api  # noqa: F401 (puts debugpy's pydevd on sys.path)
            import pydevd
        except Exception:
            self.pydevd = None
            return
        self.pydevd, self.time = pydevd, getattr(pydevd, "time", None)
        if self.time is not None:
            pydevd.time = NapFreeTime(self.time, threading.get_ident())

    def __exit__(self, *exc):
        if self.pydevd is not None and self.time is not None:
            self.pydevd.time = self.time


class no_environment_survey(object):
    """Skip the survey of the target's environment that debugpy.listen()
    writes at the top of its log (debugpy.common.log.describe_environment).
    It reads the metadata of every installed distribution, and debugpy
    makes it even when nothing is logged: 37 ms of every attach with the
    hundred packages of the benchmark's interpreter, more in a large
    virtualenv, all of it holding the GIL. Kept when a debugpy log was
    asked for, where it belongs."""

    def __init__(self, logging):
        self.logging = logging
        self.log = None

    def __enter__(self):
        if self.logging:
            return
        try:
            from debugpy.common import log
        except Exception:
            return
        if hasattr(log, "describe_environment"):
            self.log, self.describe = log, log.describe_environment
            log.describe_environment = lambda header: None

    def __exit__(self, *exc):
        if self.log is not None:
            self.log.describe_environment = self.describe


class NapFreeTime(object):
    """The time module, but for the nap no_startup_nap skips."""

    def __init__(self, time, thread):
        self.time, self.thread = time, thread

    def __getattr__(self, name):
        return getattr(self.time, name)

    def sleep(self, seconds):
        import threading
        caller = sys._getframe(1).f_code.co_name
        if caller == "initialize_network" and threading.get_ident() == self.thread:
            return
        self.time.sleep(seconds)


def no_delay():
    """Turn off Nagle's algorithm on pydevd's connection to its adapter.
    pydevd writes each message's header and body in separate sends, so
    without this every answer waits for the adapter's delayed
    acknowledgement: about 40 ms per request (stepping, variables, ...).
    Best effort: it reaches into pydevd's internals."""
    try:
        import pydevd
        pydevd.get_global_debugger().writer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except Exception:
        pass


def release_buffer(cfg):
    """Unmap the memory gdb wrote the stub into, when pyattach left that to
    us (a pending call outlives gdb). Best effort: without ctypes the few
    pages stay mapped."""
    buf = cfg.get("buffer")
    if not buf or not buf[0]:
        return
    try:
        import ctypes
        munmap = ctypes.CDLL(None).munmap
        munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        munmap.restype = ctypes.c_int
        munmap(int(buf[0], 16), int(buf[1], 16))
    except Exception:
        pass


def main():
    chan = Channel(SOCKET, READER)  # noqa: F821 (set by the loader)
    try:
        try:
            report = start_debugpy(CONFIG, chan)  # noqa: F821
            report["queued"] = DONE is not None  # noqa: F821
            try:
                chan.call("ready", report)
                chan.wait_for_close(release_main_thread)
            finally:
                release(CONFIG)  # noqa: F821
        except Failure as exc:
            chan.call("failed", {"kind": exc.kind, "message": str(exc), "traceback": traceback.format_exc()})
        except BaseException as exc:
            chan.call("failed", {"kind": "bootstrap-failed", "message": "%s: %s" % (type(exc).__name__, exc),
                                 "traceback": traceback.format_exc()})
    except Exception:
        pass  # pyattach went away mid-report: nothing more to say
    finally:
        release_main_thread()
        chan.close()
        release_buffer(CONFIG)  # noqa: F821


def release_main_thread():
    """Let a main thread that waits for us go (see the loader): once the
    editor has configured the session, or when anything ends the attach."""
    if DONE is not None:  # noqa: F821 (set by the loader)
        DONE.set()  # noqa: F821


main()
