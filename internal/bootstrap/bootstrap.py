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
# debugpy connects out to the adapter pyattach runs beside itself (connect):
# nothing listens in the program. After reporting ready the bootstrap keeps
# the channel open for as long as the debug session lasts. When pyattach
# closes it (the session ended, or pyattach itself is gone) and no other
# session uses debugpy, it stops debugpy: its tracing must not go on
# slowing the program down.

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


class Channel:
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
        # MSG_NOSIGNAL: a program that restored SIGPIPE's default action
        # must not die of a write to a pyattach that has gone.
        self.sock.sendall(json.dumps(obj).encode("utf-8") + b"\n", getattr(socket, "MSG_NOSIGNAL", 0))

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
    fresh.ours = None     # a weak reference to the last debugger a bootstrap started (program_debugger_running)
    return sys.modules.setdefault(STATE_MODULE, fresh)


HANDOFF_INTERVAL = 0.0002  # seconds: the switch interval while debugpy starts (quick_handoff)


class quick_handoff:
    """Shorten the interpreter's switch interval while debugpy starts or
    stops (stopping, too, passes the GIL back and forth with pydevd's
    threads). Starting pydevd takes the GIL thousands of times, on this thread and
    on pydevd's reader and writer, each time after a socket exchange with
    the adapter; in a program whose threads run Python without pause, each
    of those waits a switch interval (5 ms by default) or more for a busy
    thread to let go: with four such threads, starting debugpy took 9 s
    instead of 0.2. A 0.2 ms interval makes each wait that much shorter;
    the program's threads switch more often, for that fraction of a
    second. The program's own interval comes back afterwards."""

    def __enter__(self):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self.interval, HANDOFF_INTERVAL))

    def __exit__(self, *exc):
        sys.setswitchinterval(self.interval)


HANDOFF_LIMIT = 5.0  # seconds: the longest the short interval outlasts debugpy's start


class handoff_until_configured:
    """quick_handoff from debugpy's start until the editor has configured
    the session: the editor's first requests (initialize, attach, the
    breakpoints) are served by pydevd's reader thread, which waits for the
    GIL like the rest (0.27 s of an attach with four busy workers). Ends at
    pyattach's "configured" notification, at the end of the attach, or
    after HANDOFF_LIMIT seconds, whichever comes first."""

    def __init__(self):
        import threading
        self.lock = threading.Lock()
        self.handoff = None
        self.timer = None

    def start(self):
        import threading
        self.handoff = quick_handoff()
        self.handoff.__enter__()
        self.timer = threading.Timer(HANDOFF_LIMIT, self.end)
        self.timer.daemon = True
        self.timer.start()

    def end(self):
        with self.lock:
            handoff, self.handoff = self.handoff, None
        if handoff is None:
            return
        if self.timer is not None:
            self.timer.cancel()
        handoff.__exit__()


HANDOFF = handoff_until_configured()


class quiet_pydevd:
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
            HANDOFF.start()
            try:
                with quiet_pydevd():
                    report = connect(cfg, chan)
            except BaseException:
                HANDOFF.end()
                raise
            continue_generations(st)
            remember_debugger(st)
            st.report = dict(report)
        st.sessions += 1
        return report


def release(cfg):
    """One session is over; stop debugpy if it was the last. Returns what
    was done, for pyattach's log (see untrace)."""
    st = state()
    with st.lock:
        st.sessions -= 1
        if st.report is None:
            return {"stopped": False, "reason": "debugpy was not running"}
        if st.sessions > 0:
            return {"stopped": False, "reason": "another session uses debugpy"}
        st.report = None
        st.mtime = debugger_mtime()
        with quick_handoff():
            return stop_debugpy()


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
    and disconnects (its adapter process then exits, closing its port),
    debugpy.listen() may be called again by a later attach, and no thread
    keeps any of pydevd's tracing (untrace). Returns untrace's report."""
    # The process-spawning functions first: a child forked once pydevd has
    # disconnected would try to join an adapter that is gone, and pydevd
    # raises that failure out of os.fork() in the child.
    modules = [sys.modules.get(name) for name in ("os", "subprocess", "_posixsubprocess")]
    for module in modules:
        for name in list(vars(module) if module is not None else ()):
            if name.startswith("original_"):
                setattr(module, name[len("original_"):], getattr(module, name))
                delattr(module, name)
    import pydevd
    monitored = uses_monitoring()
    quiet_callbacks(monitored)
    end_reader()
    pydevd.stoptrace()
    await_disposed(pydevd)
    keep_stop_reasons.remove()
    api = sys.modules.get("debugpy.server.api")
    if api is not None:
        api.listen.called = False
    return untrace(monitored)


CALLBACK_GRACE = 0.02  # seconds quiet_callbacks gives threads to leave pydevd's callbacks


def quiet_callbacks(monitored):
    """Stop pydevd's sys.monitoring callbacks before its debugger goes.
    A callback reads the debugger twice and fails if it went in between;
    raised into the program's own code, that AttributeError ends whichever
    thread was in the callback (seen on 3.15, where pydevd's callbacks are
    plain Python). pydevd's own order (stoptrace) is the same, and it then
    waited half a second before letting go of the debugger, which
    no_dispose_wait skips: threads caught inside a callback get a moment
    to leave it instead (each runs a few bytecodes; quick_handoff is on)."""
    if not monitored:
        return
    try:
        from _pydevd_sys_monitoring import pydevd_sys_monitoring
        pydevd_sys_monitoring.stop_monitoring(all_threads=True)
    except Exception:
        return
    import time
    time.sleep(CALLBACK_GRACE)


DISPOSE_WAIT = 1.0  # seconds await_disposed waits for pydevd to let go of its debugger


def await_disposed(pydevd):
    """Wait until pydevd has let go of the stopped debugger. It does so on
    whichever of its threads disposes of it, a moment after stoptrace()
    returns; a debugger still registered then makes the next session's
    pydevd.settrace() take it for a running one and connect to nothing.
    Best effort: after DISPOSE_WAIT the next session waits too (connect)."""
    import time
    deadline = time.monotonic() + DISPOSE_WAIT
    while pydevd.get_global_debugger() is not None and time.monotonic() < deadline:
        time.sleep(0.005)


def untrace(monitored):
    """Take what is left of pydevd's tracing out of the program, which
    pydevd.stoptrace() does not do (issue 21). stoptrace clears the trace
    function of the thread that calls it (this one) and of threads started
    from then on; but pydevd had put its tracer into every thread that
    existed when it started, writing their thread states from here through
    a helper library (pydevd_tracing.set_trace_to_threads), and threads
    started during the session got it from threading.settrace. Each of
    those threads went on calling the tracer at every function call: the
    program stayed 3-10 times slower on CPython 3.8-3.11 until restarted.
    On 3.12 and 3.13 pydevd's sys.monitoring events set on single code
    objects stay too, and a frame-evaluation hook, where pydevd used one,
    stays everywhere. The program's own tracers (a coverage tool's) are
    left alone. Returns what was removed, what was kept, and anything of
    the debugger found still installed afterwards, for pyattach's log."""
    import time
    began = time.monotonic()
    report = {"stopped": True, "removed": {}, "kept": [], "left": [], "errors": []}
    for step in (untrace_threads, unmonitor, stop_frame_eval, forget_session):
        try:
            step(report, monitored)
        except Exception as exc:
            report["errors"].append("%s: %s: %s" % (step.__name__, type(exc).__name__, exc))
    report["seconds"] = round(time.monotonic() - began, 4)
    return report


def is_debugger(obj):
    """Whether a trace or profile function is the debugger's: it, or what
    it is a method of, comes from pydevd's or debugpy's modules."""
    for o in (obj, getattr(obj, "__self__", None)):
        for name in (getattr(o, "__module__", None), getattr(type(o), "__module__", None)):
            if isinstance(name, str) and name.split(".")[0].lstrip("_").startswith(("pydev", "debugpy")):
                return True
    return False


def describe(obj):
    kind = type(obj)
    return "%s.%s" % (getattr(kind, "__module__", "?"), getattr(kind, "__qualname__", kind.__name__))


# Where CPython 3.8-3.11 keep a thread's tracer in its PyThreadState on
# 64-bit Linux (each version's Include/cpython/pystate.h): the offsets of
# tracing, use_tracing (3.8 and 3.9 only), c_profilefunc, c_tracefunc,
# c_profileobj and c_traceobj. ThreadStates.check proves them on this
# thread before anything is written.
TSTATE_LAYOUT = {
    (3, 8): (44, 48, 56, 64, 72, 80),
    (3, 9): (44, 48, 56, 64, 72, 80),
    (3, 10): (44, None, 56, 64, 72, 80),
    (3, 11): (44, None, 64, 72, 80, 88),
}

# CPython 3.8 and 3.9 count the threads that have a trace function
# (ceval's tracing_possible) and leave the eval loop's fastest path while
# the count is not 0. A thread that ends while traced is never uncounted,
# and pydevd ends one such thread for each thread it traces (pydevd_tracing:
# increase_tracing_count): 10-20% slower for ever, with no tracer left.
# Where the count is: _PyRuntime.ceval (3.8), the interpreter's ceval (3.9).
TRACING_POSSIBLE = {(3, 8): ("runtime", 588), (3, 9): ("interp", 68)}

WALK_GUARD = 0.02  # seconds: the switch interval while thread states are walked (untrace_threads)


class ThreadStates:
    """The interpreter's thread states (CPython 3.8-3.11), read and written
    with ctypes. Only the C API's own setters write them where CPython
    exports one for another thread (_PyEval_SetTrace/_PyEval_SetProfile,
    3.9+); 3.8 gets the same writes done here. No thread state is ever
    made current: running Python code under a swapped one can kill the
    process."""

    def __init__(self, ctypes, layout):
        def fn(restype, name, *argtypes):  # private prototypes: ctypes.pythonapi's are shared with the program
            return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))
        P = ctypes.c_void_p
        self.c = ctypes
        self.current = fn(P, "PyThreadState_Get")
        self.head = fn(P, "PyInterpreterState_ThreadHead", P)
        self.next = fn(P, "PyThreadState_Next", P)
        self.decref = fn(None, "Py_DecRef", ctypes.py_object)
        self.setters = {}
        if sys.version_info >= (3, 9):
            self.setters = {"trace": fn(ctypes.c_int, "_PyEval_SetTrace", P, P, P),
                            "profile": fn(ctypes.c_int, "_PyEval_SetProfile", P, P, P)}
        self.tracing, self.use_tracing, profilefunc, tracefunc, profileobj, traceobj = layout
        self.fields = {"trace": (tracefunc, traceobj), "profile": (profilefunc, profileobj)}
        self.interp = self.ptr(self.current() + 16)  # PyThreadState.interp, the third pointer in every version

    def ptr(self, addr):
        return self.c.c_void_p.from_address(addr).value or 0

    def int(self, addr):
        return self.c.c_int.from_address(addr).value

    def get(self, ts, what):
        """The trace or profile object of thread state ts (a new reference), or None."""
        addr = ts + self.fields[what][1]
        return self.c.py_object.from_address(addr).value if self.ptr(addr) else None

    def all(self):
        return list(self.each())

    def each(self):
        ts = self.head(self.interp)
        while ts:
            yield ts
            ts = self.next(ts)

    def unset(self, ts, what):
        """Remove ts's trace or profile function, as sys.settrace(None) or
        sys.setprofile(None) would on its own thread."""
        if self.setters:
            self.setters[what](ts, None, None)
            return
        func, obj = self.fields[what]
        other = self.fields["profile" if what == "trace" else "trace"][0]
        held = self.c.py_object.from_address(ts + obj).value
        self.c.c_void_p.from_address(ts + func).value = None
        self.c.c_void_p.from_address(ts + obj).value = None
        self.c.c_int.from_address(ts + self.use_tracing).value = 1 if self.ptr(ts + other) else 0
        self.decref(held)  # the thread state's reference; held's own goes with it

    def check(self):
        """Whether the layout holds in this interpreter: trace and profile
        functions set on this thread are found where it says, and so is
        the tracing counter during a trace call."""
        me, seen = self.current(), []

        def trace(frame, event, arg):
            seen.append(self.int(me + self.tracing))

        def profile(frame, event, arg):
            pass

        sys.settrace(trace)
        sys.setprofile(profile)
        try:
            ok = (self.get(me, "trace") is trace and self.get(me, "profile") is profile
                  and self.ptr(me + self.fields["trace"][0]) and self.ptr(me + self.fields["profile"][0])
                  and (self.use_tracing is None or self.int(me + self.use_tracing) == 1))
        finally:
            sys.settrace(None)
            sys.setprofile(None)
        return bool(ok) and seen[:1] == [1] and self.get(me, "trace") is None and self.get(me, "profile") is None

    def tracing_possible(self):
        """The address of tracing_possible (3.8, 3.9), proven by setting a
        trace function on this thread and seeing it counted; else None."""
        where = TRACING_POSSIBLE.get(sys.version_info[:2])
        if where is None:
            return None
        if where[0] == "runtime":
            base = self.c.addressof(self.c.c_char.in_dll(self.c.pythonapi, "_PyRuntime"))
        else:
            base = self.interp
        addr = base + where[1]
        before = self.int(addr)
        sys.settrace(lambda frame, event, arg: None)
        during = self.int(addr)
        sys.settrace(None)
        return addr if during == before + 1 and self.int(addr) == before else None


class TraceSetter:
    """Stands in for pydevd's native helper library (attach_linux_<arch>.so)
    where there is none: debugpy ships it for x86-64 only. On CPython 3.8 to
    3.11 pydevd puts its tracer into the threads that were already running
    through that library; without it (Linux on arm64) a breakpoint in such a
    thread — the main thread's loop, a pool's workers — never fires. This
    does the same through the C API, with the layout ThreadStates proves:
    the thread's state is found by its thread id, and given the tracer with
    the interpreter's own trace trampoline (the C function sys.settrace
    installs, read off this thread) through _PyEval_SetTrace (3.9+), or by
    the writes it would make (3.8). pydevd calls it holding the GIL, which
    no call here releases. It answers pydevd's call as the library would:
    0 for done, another number for not."""

    def __init__(self, states):
        self.states = states
        me = states.current()
        previous = sys.gettrace()
        sys.settrace(lambda frame, event, arg: None)
        self.trampoline = states.ptr(me + states.fields["trace"][0])
        sys.settrace(previous)
        self.id_offset = self.find_thread_id(me)
        self.counter = states.tracing_possible()

    def find_thread_id(self, me):
        """The offset of PyThreadState.thread_id: the one word of this
        thread's state that holds this thread's id."""
        import threading
        ident = threading.get_ident()
        found = [off for off in range(0, 256, 8) if self.states.c.c_ulong.from_address(me + off).value == ident]
        return found[0] if len(found) == 1 else None

    def AttachDebuggerTracing(self, show_debug_info, set_trace_func, tracing_func, thread_ident, unused):
        try:
            return self.attach(tracing_func.value, thread_ident.value)
        except Exception:
            return -1

    def attach(self, tracer, ident):
        import threading
        if ident == threading.get_ident() & 0xFFFFFFFF:
            sys.settrace(tracer)
            return 0
        if not self.trampoline or self.id_offset is None:
            return -2
        c = self.states.c
        for ts in self.states.each():
            if c.c_ulong.from_address(ts + self.id_offset).value & 0xFFFFFFFF == ident:
                return self.set_on(ts, tracer)
        return -3  # the thread has ended

    def set_on(self, ts, tracer):
        c, states = self.states.c, self.states
        setter = states.setters.get("trace")
        if setter is not None:
            return setter(ts, self.trampoline, id(tracer))
        if self.counter is None:
            return -4
        func, obj = states.fields["trace"]
        c.pythonapi.Py_IncRef(c.py_object(tracer))
        held = c.py_object.from_address(ts + obj).value if states.ptr(ts + obj) else None
        c.c_void_p.from_address(ts + obj).value = id(tracer)
        was_traced = states.ptr(ts + func)
        c.c_void_p.from_address(ts + func).value = self.trampoline
        c.c_int.from_address(ts + states.use_tracing).value = 1
        if not was_traced:
            c.c_int.from_address(self.counter).value += 1
        if held is not None:
            states.decref(held)
        return 0


def supply_thread_tracing():
    """Give pydevd a TraceSetter where it has no native helper library and
    needs one (CPython 3.8-3.11). Returns how pydevd will trace threads
    that were already running: "native", "pyattach" or "none" (a reason)."""
    layout = TSTATE_LAYOUT.get(sys.version_info[:2])
    if layout is None:
        return "native"  # 3.12+: sys.monitoring reaches every thread
    try:
        import debugpy.server.api  # noqa: F401 (puts debugpy's pydevd on sys.path)
        import pydevd_tracing
        if pydevd_tracing._load_python_helper_lib() is not None:
            return "native"
        import ctypes
        if ctypes.sizeof(ctypes.c_void_p) != 8 or sys.implementation.name != "cpython":
            return "none: not a 64-bit CPython"
        states = ThreadStates(ctypes, layout)
        if not states.check():
            return "none: the thread state layout is not as expected"
        setter = TraceSetter(states)
        if not setter.trampoline or setter.id_offset is None:
            return "none: this thread's state did not show its trace trampoline or thread id"
        pydevd_tracing._load_python_helper_lib.__lib__ = setter
        return "pyattach"
    except Exception as exc:
        return "none: %s: %s" % (type(exc).__name__, exc)


def untrace_threads(report, monitored):
    """CPython 3.8-3.11: remove pydevd's trace and profile functions from
    every thread, and recount tracing_possible (3.8, 3.9).

    Thread states are walked and written holding the GIL, which a thread
    needs to end and free its own: none may be freed during the walk, so
    the GIL must not change hands. The walk makes no call that releases
    it, runs with the garbage collector off (no finalizer in the middle),
    and takes about a millisecond; and other threads are kept from asking
    for the GIL (which they do after waiting a switch interval, 5 ms by
    default) by a switch interval of WALK_GUARD for the walk's duration:
    set before a sleep longer than the old interval, so that every thread
    that waits for the GIL once this one has it back waits with the new
    one. The program's threads may wait up to WALK_GUARD for the GIL
    once."""
    layout = TSTATE_LAYOUT.get(sys.version_info[:2])
    if layout is None:
        return  # 3.12+: pydevd traces with sys.monitoring (unmonitor)
    import ctypes
    import gc
    import time
    if ctypes.sizeof(ctypes.c_void_p) != 8 or sys.implementation.name != "cpython" \
            or not isinstance(sys.settrace, type(len)) or not isinstance(sys.setprofile, type(len)):
        report["errors"].append("threads not checked: not a CPython whose thread states this bootstrap knows")
        return
    states = ThreadStates(ctypes, layout)
    if not states.check():
        report["errors"].append("threads not checked: the thread state layout is not as expected")
        return
    counter = states.tracing_possible()
    removed = {"trace": 0, "profile": 0}
    held = []  # the removed tracers, freed only once the walk is over
    collecting, interval = gc.isenabled(), sys.getswitchinterval()
    try:
        sys.setswitchinterval(max(interval, WALK_GUARD))
        time.sleep(interval + 0.002)
        gc.disable()
        for ts in states.all():
            for what in ("trace", "profile"):
                obj = states.get(ts, what)
                if obj is None:
                    continue
                if is_debugger(obj):
                    held.append(obj)
                    states.unset(ts, what)
                    removed[what] += 1
                else:
                    report["kept"].append("%s function %s" % (what, describe(obj)))
        if counter is not None:
            traced = sum(1 for ts in states.each() if states.ptr(ts + states.fields["trace"][0]))
            report["tracing_possible"] = [states.int(counter), traced]
            states.c.c_int.from_address(counter).value = traced
        for ts in states.each():
            for what in ("trace", "profile"):
                obj = states.get(ts, what)
                if obj is not None and is_debugger(obj):
                    report["left"].append("%s function %s in a thread" % (what, describe(obj)))
    finally:
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()
    del held[:]
    report["removed"].update(removed)
    # Frames pydevd traced keep its per-frame tracer, unused now that no
    # thread traces, but holding the old debugger alive, and it would be
    # called again if the program set a tracer of its own.
    frames = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_trace is not None and is_debugger(frame.f_trace):
                frame.f_trace = None
                frames += 1
            frame = frame.f_back
    report["removed"]["frame_trace"] = frames


def uses_monitoring():
    """Whether pydevd holds sys.monitoring's debugger tool (3.12+)."""
    mon = getattr(sys, "monitoring", None)
    try:
        return mon is not None and mon.get_tool(mon.DEBUGGER_ID) == "pydevd"
    except Exception:
        return False


def unmonitor(report, monitored):
    """CPython 3.12+: pydevd's stop turns its global sys.monitoring events
    off, unregisters most of its callbacks and frees its tool, but leaves
    the events it set on single code objects (instrumented code: only 3.14's
    free_tool_id clears them) and its PY_UNWIND callback. Take the tool
    back to clear them, and free it again."""
    mon = getattr(sys, "monitoring", None)
    if mon is None or not monitored:
        return
    tool = mon.DEBUGGER_ID
    owner = mon.get_tool(tool)
    if owner is not None:
        report["left" if owner == "pydevd" else "kept"].append("sys.monitoring tool %d (%s)" % (tool, owner))
        return
    bits = [getattr(mon.events, name) for name in dir(mon.events) if name.isupper()]
    bits = sorted(set(b for b in bits if isinstance(b, int) and b > 0 and b & (b - 1) == 0))
    callbacks = codes = 0
    mon.use_tool_id(tool, "pydevd")
    try:
        for bit in bits:
            try:
                callbacks += mon.register_callback(tool, bit, None) is not None
            except ValueError:
                pass  # not an event a callback is registered for
        for code in debugger_codes():
            if mon.get_local_events(tool, code):
                mon.set_local_events(tool, code, 0)
                codes += 1
        mon.set_events(tool, 0)
    finally:
        mon.free_tool_id(tool)
    report["removed"].update({"monitoring_callbacks": callbacks, "monitoring_code_events": codes})


def forget_session(report, monitored):
    """Drop what pydevd keeps of a session after its stop, in state that a
    later session does not read, so that the program's memory does not
    grow with every attach (about 60 KiB each). First the tracers kept in
    its per-thread state (the additional_info it sets on each
    threading.Thread, which outlives the debugger): they hold that
    session's PyDB, and one list of them gains one every session, so each
    attach kept one more debugger alive, reader and writer included. A
    later session makes the tracers it needs. The state itself stays: on
    3.12+ pydevd's sys.monitoring support keeps using it."""
    import threading
    count = 0
    for thread in list(threading._active.values()) + list(threading._limbo.values()):
        info = thread.__dict__.get("additional_info")
        if info is None:
            continue
        kept = getattr(info, "top_level_thread_tracer_no_back_frames", None) or []
        count += len(kept) + sum(1 for name in ("top_level_thread_tracer_unhandled", "thread_tracer")
                                 if getattr(info, name, None) is not None)
        if hasattr(info, "top_level_thread_tracer_no_back_frames"):
            info.top_level_thread_tracer_no_back_frames = []
        for name in ("top_level_thread_tracer_unhandled", "thread_tracer"):
            if hasattr(info, name):
                setattr(info, name, None)
    report["removed"]["thread_tracers"] = count
    # pydevd also keeps every thread it ever numbered, so that no new one
    # gets the number of an old one (the number is made of id(thread)), in
    # a dict it never reads: the ended ones (its own reader of each
    # session, this bootstrap's thread) can go, no session knows them.
    constants = sys.modules.get("_pydevd_bundle.pydevd_constants")
    numbered = getattr(constants, "_thread_id_to_thread_found", None)
    if isinstance(numbered, dict):
        ended = [key for key, thread in list(numbered.items()) if not thread.is_alive()]
        for key in ended:
            numbered.pop(key, None)
        report["removed"]["ended_threads"] = len(ended)
    # A weak reference to every lock it ever made, for resetting them in a
    # forked child: those of the ended sessions are dead.
    locks = getattr(constants, "_fork_safe_locks", None)
    if isinstance(locks, list):
        locks[:] = [ref for ref in list(locks) if ref() is not None]
    # And every id it ever gave the client (frames, scopes, variables), in
    # maps that only grow: the next session starts with its own.
    schema = sys.modules.get("_pydevd_bundle._debug_adapter.pydevd_base_schema")
    base = getattr(schema, "BaseSchema", None)
    if base is not None and hasattr(base, "initialize_ids_translation"):
        report["removed"]["client_ids"] = len(getattr(base, "_dap_id_to_obj_id", ())) - 2
        base.initialize_ids_translation()


def debugger_codes():
    """The code objects pydevd's sys.monitoring support has seen: those it
    may have set events on."""
    codes = []
    for name in ("_pydevd_sys_monitoring._pydevd_sys_monitoring_cython", "_pydevd_sys_monitoring._pydevd_sys_monitoring"):
        cache = getattr(sys.modules.get(name), "_code_to_func_code_info_cache", None)
        if isinstance(cache, dict):
            codes.extend(list(cache))
    return codes


def stop_frame_eval(report, monitored):
    """pydevd's frame-evaluation mode (CPython 3.8-3.10 with its compiled
    evaluator) sets the interpreter's eval-frame hook, and nothing in
    pydevd ever unsets it."""
    main = sys.modules.get("_pydevd_frame_eval.pydevd_frame_eval_main")
    if main is not None and getattr(main, "USING_FRAME_EVAL", False) and getattr(main, "stop_frame_eval", None):
        main.stop_frame_eval()
        report["removed"]["frame_eval"] = 1


def connect(cfg, chan):
    """Start debugpy connected out to the adapter pyattach runs beside
    itself: nothing listens in the program, and nothing is spawned in it.
    pyattach is told which debugpy was imported (the adapter must run the
    same version) and answers with the adapter's address and the tokens
    each side presents."""
    debugpy, origin = import_debugpy(cfg, chan)
    version = getattr(debugpy, "__version__", "unknown")
    home = package_home(debugpy)
    try:
        adapter = chan.call("adapter", {"debugpy_version": version, "debugpy_home": home_hex(home),
                                        "debugpy_origin": origin, "executable": sys.executable})
    except Rejected as exc:
        raise Failure("adapter-failed", "debugpy's adapter could not be started: %s" % exc)
    chan.notify("progress", {"message": "starting debugpy %s" % version})
    log_dir = fs_path(cfg.get("debugpy_log_dir"))
    if log_dir is not None:
        debugpy_log_to(debugpy, log_dir)
    if cfg.get("sub_process") is not None:
        debugpy.configure(subProcess=bool(cfg["sub_process"]))
    if chan.abandoned():
        raise Failure("abandoned", "pyattach gave up on this attach before debugpy was started")
    pydevd = sys.modules.get("pydevd")
    if pydevd is not None:
        await_disposed(pydevd)  # an earlier session's, winding down
    if program_debugger_running():
        raise Failure("debugpy-failed", "debugpy already runs in this process, started by the program itself "
                      "(debugpy.listen() or debugpy.connect()); connect your editor to it instead")
    tracing = supply_thread_tracing()
    try:
        with no_startup_nap(), no_environment_survey(log_dir is not None), \
                settrace_options(adapter["server_token"]):
            debugpy.connect((adapter["host"], adapter["port"]), access_token=adapter["client_token"])
    except RuntimeError as exc:
        raise Failure("debugpy-failed", "debugpy.connect() failed: %s" % exc)
    no_delay()
    check_reader()
    keep_stop_reasons.install()
    report = describe_python()
    report.update({
        "debugpy_version": version,
        "debugpy_path": home,
        "debugpy_origin": origin,
        "host": adapter["host"],
        "port": adapter["port"],
        "reused": False,
        "client_connected": False,
        "patches": dict(PATCHES),
        "thread_tracing": tracing,
    })
    return report


def debugpy_log_to(debugpy, log_dir):
    """debugpy takes a log directory only before its first start in a
    process (after that, log_to() raises "logging has already begun"), but
    a later session asked for logs too: its own log module and pydevd's are
    pointed at the directory the way its first start would have."""
    api = sys.modules.get("debugpy.server.api")
    ensured = getattr(getattr(api, "ensure_logging", None), "ensured", False)
    if not ensured:
        debugpy.log_to(log_dir)
        return
    from debugpy.common import log
    if log.log_dir != log_dir:
        log.log_dir = log_dir
        log.to_file(prefix="debugpy.server")
    pydevd = sys.modules.get("pydevd")
    if pydevd is not None and hasattr(pydevd, "log_to"):
        pydevd.log_to(os.path.join(log_dir, "debugpy.pydevd.log"))


def program_debugger_running():
    """Whether pydevd already runs here, started by the program: a second
    start would take it over from under the program's own debugger. No
    bootstrap session is running (see start_debugpy); a debugger an earlier
    one started, and stopped, may still be registered for a moment while
    its threads wind down: that one is ours."""
    pydevd = sys.modules.get("pydevd")
    debugger = pydevd.get_global_debugger() if pydevd is not None else None
    if debugger is None:
        return False
    ours = state().ours
    return ours is None or ours() is not debugger


def remember_debugger(st):
    """Note the debugger this bootstrap started, without keeping it alive."""
    import weakref
    import pydevd
    try:
        st.ours = weakref.ref(pydevd.get_global_debugger())
    except TypeError:
        st.ours = None


def home_hex(path):
    return os.fsencode(path).hex()


class settrace_options:
    """Start pydevd the way debugpy.listen() does, but connected out:
    debugpy.connect() offers neither option. pydevd must not wait, in
    connect(), until the editor has configured the session (the editor
    reaches it only once this bootstrap has reported ready), and it checks
    the token the adapter presents (access_token), so that it serves
    pyattach's adapter and no other. Without debugpy's _settrace, connect()
    would wait for ever: that is refused."""

    def __init__(self, server_token):
        self.token = server_token

    def __enter__(self):
        self.api = sys.modules.get("debugpy.server.api")
        self.original = getattr(self.api, "_settrace", None)
        if self.original is None:
            raise Failure("debugpy-failed", "this debugpy cannot be started connected out (debugpy.server.api._settrace is missing)")
        original, token = self.original, self.token

        def settrace(*args, **kwargs):
            kwargs["wait_for_ready_to_run"] = False
            kwargs["block_until_connected"] = True
            kwargs["access_token"] = token
            return original(*args, **kwargs)

        # debugpy reads its "already started" flag off the function it
        # calls as _settrace.
        settrace.called = getattr(original, "called", False)
        self.api._settrace = settrace

    def __exit__(self, *exc):
        self.api._settrace = self.original


# --- Reaching into debugpy and pydevd -------------------------------------
#
# Each of these changes something of debugpy's or pydevd's that their API
# does not offer, to save time on every attach or detach, or to mend a
# race of pydevd's (keep_stop_reasons). Each is best
# effort: where a debugpy release lacks what it relies on, debugpy's own
# behaviour stays, at its cost. PATCHES records which took effect; the
# ready report carries it, and a test (bootstrap/python_test.go) requires
# every one with the pinned debugpy, so an upgrade that breaks one fails
# there instead of silently costing 40-500 ms.

PATCHES = {
    "startup_nap": False,         # no_startup_nap: pydevd's 100 ms nap skipped
    "environment_survey": False,  # no_environment_survey: the package survey skipped
    "no_delay": False,            # no_delay: TCP_NODELAY on pydevd's socket
    "reader_shutdown": False,     # end_reader will find pydevd's reader and socket
    "dispose_wait": False,        # no_dispose_wait: pydevd's threads end without waiting for each other
    "stop_reasons": False,        # keep_stop_reasons: a breakpoint's stop is never silenced
}


class no_startup_nap:
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


class no_environment_survey:
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
            log.describe_environment = skipped_survey

    def __exit__(self, *exc):
        if self.log is not None:
            self.log.describe_environment = self.describe


def skipped_survey(header):
    PATCHES["environment_survey"] = True


class NapFreeTime:
    """The time module, but for the nap no_startup_nap skips."""

    def __init__(self, time, thread):
        self.time, self.thread = time, thread

    def __getattr__(self, name):
        return getattr(self.time, name)

    def sleep(self, seconds):
        import threading
        caller = sys._getframe(1).f_code.co_name
        if caller == "initialize_network" and threading.get_ident() == self.thread:
            PATCHES["startup_nap"] = True
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
        PATCHES["no_delay"] = True
    except Exception:
        pass


def check_reader():
    """Record whether end_reader will find what it needs when the session
    ends (it runs then, too late to report)."""
    try:
        py_db, _ = pydevd_reader()
        PATCHES["reader_shutdown"] = True
        for name in ("_wait_for_threads_to_finish_called", "_wait_for_threads_to_finish_called_lock",
                     "_wait_for_threads_to_finish_called_event"):
            getattr(py_db, name)
        PATCHES["dispose_wait"] = True
    except Exception:
        pass


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
        py_db, readers = pydevd_reader()
    except Exception:
        return
    try:
        no_dispose_wait(py_db)
    except Exception:
        pass
    try:
        py_db._client_socket.shutdown(socket.SHUT_RD)
        for reader in readers:
            reader.join(READER_END_WAIT)
    except Exception:
        pass


def no_dispose_wait(py_db):
    """Spare pydevd's threads their wait for each other as they end. Each
    one disposes of the debugger as it ends; the first waits for the other
    pydevd threads to end (polling every 0.1 s, for up to 0.5 s), and they
    wait for it to be done waiting: every stop took half a second, more
    with busy threads. Marked as done, the wait is skipped; the threads
    end all the same, and stop_debugpy waits for what matters (the reader,
    and pydevd letting go of the debugger). Raises when this pydevd lacks
    what it relies on (check_reader)."""
    with py_db._wait_for_threads_to_finish_called_lock:
        py_db._wait_for_threads_to_finish_called = True
    py_db._wait_for_threads_to_finish_called_event.set()


def pydevd_reader():
    """pydevd's debugger and its reader threads, as end_reader needs them:
    raises when this pydevd lacks what end_reader relies on."""
    import pydevd
    py_db = pydevd.get_global_debugger()
    readers = [t for t in py_db.created_pydb_daemon_threads if t.name == "pydevd.Reader"]
    if not readers or py_db._client_socket is None:
        raise LookupError("no pydevd reader or client socket")
    return py_db, readers


class keep_stop_reasons:
    """Stop pydevd from silencing a breakpoint hit by several threads at
    once (issue 17). A thread that hits a breakpoint marks itself stopped
    "at a breakpoint" and then marks every other thread stopped "because
    another thread stopped" (suspend_all_threads); with threads that run
    the breakpointed code continuously, two or more hit it together and
    each overwrites the others' reason, so every thread can end up stopped
    for the secondary reason, for which pydevd sends the editor nothing:
    the whole program waits at the breakpoint and the editor never hears
    of it (pydevd's log: "Suspend not sent because stop reason is thread
    suspend"). In debugpy 1.6 to 1.8.20 (1.8.21 marks under a lock, so
    the last thread's reason stands); a few sessions in 50 with four busy
    threads, every one with pydevd's logging on. Targets keep the debugpy
    they have, so here marking another thread leaves alone a thread
    already stopped for a reason of its own (harmless with 1.8.21).
    Installed for a session, removed at its end."""

    @staticmethod
    def install():
        try:
            from _pydevd_bundle import pydevd_thread_lifecycle as lifecycle
            from _pydevd_bundle.pydevd_comm_constants import CMD_THREAD_SUSPEND
            from _pydevd_bundle.pydevd_constants import STATE_SUSPEND
            mark, info_of = lifecycle.mark_thread_suspended, lifecycle.set_additional_thread_info
        except Exception:
            return
        mark = getattr(mark, "pyattach_original", mark)

        def mark_thread_suspended(thread, stop_reason, *args, **kwargs):
            if stop_reason == CMD_THREAD_SUSPEND and getattr(thread, "stop_reason", stop_reason) != stop_reason:
                info = info_of(thread)
                if info.pydev_state == STATE_SUSPEND:
                    return info
            return mark(thread, stop_reason, *args, **kwargs)

        mark_thread_suspended.pyattach_original = mark
        lifecycle.mark_thread_suspended = mark_thread_suspended
        PATCHES["stop_reasons"] = True

    @staticmethod
    def remove():
        lifecycle = sys.modules.get("_pydevd_bundle.pydevd_thread_lifecycle")
        original = getattr(getattr(lifecycle, "mark_thread_suspended", None), "pyattach_original", None)
        if original is not None:
            lifecycle.mark_thread_suspended = original


# --- End of reaching into debugpy and pydevd ------------------------------


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
                chan.wait_for_close(configured)
            finally:
                HANDOFF.end()
                stopped = release(CONFIG)  # noqa: F821
            # pyattach closed its side only: it reads what the stop did.
            chan.notify("stopped", stopped)
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


def configured():
    """The editor has set its breakpoints: the program's main thread and
    its own switch interval come back."""
    release_main_thread()
    HANDOFF.end()


def release_main_thread():
    """Let a main thread that waits for us go (see the loader): once the
    editor has configured the session, or when anything ends the attach."""
    if DONE is not None:  # noqa: F821 (set by the loader)
        DONE.set()  # noqa: F821


main()
