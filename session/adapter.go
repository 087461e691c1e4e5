package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/pyattach/pyattach/internal/adapterproc"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/netns"
)

// PythonEnv names the interpreter that runs debugpy's adapter, when the
// user chooses it.
const PythonEnv = "PYATTACH_PYTHON"

// interpreterName matches the file names of CPython's own executables
// (python, python3, python3.12, python3.13t): a program that embeds
// CPython has a name of its own, and running it would start that program.
var interpreterName = regexp.MustCompile(`^python(3(\.[0-9]+t?)?)?$`)

// adapterSide is what an attach prepares for the target to connect out
// to: the listening socket its pydevd connects to, the tokens both sides
// present, and debugpy's adapter, which runs beside pyattach (see package
// adapterproc). The adapter starts while the bootstrap is injected, with
// the debugpy the bootstrap is expected to pick; if the bootstrap picks
// another version, it is started again with that one (serve).
type adapterSide struct {
	ctx      context.Context // the attach's
	req      Request
	target   *Target
	python   string
	listener *net.TCPListener
	file     *os.File // the listener, for the adapter to inherit
	addr     bootstrap.AdapterAddr

	mu      sync.Mutex
	adapter *adapterproc.Adapter
	err     error // why the adapter could not serve the bootstrap: the attach's error
}

// startAdapter opens the listener and starts the adapter with the debugpy
// the bootstrap will most likely pick: the one the user named, else
// pyattach's own (a target with a debugpy of its own in another version
// gets its adapter restarted, see serve).
func startAdapter(ctx context.Context, req Request, target *Target) (*adapterSide, error) {
	python, why, err := adapterPython(target)
	if err != nil {
		return nil, err
	}
	ln, err := netns.ListenTCP(target.Process.PID)
	if err != nil {
		return nil, attacherr.Wrap(err, attacherr.Internal, fmt.Sprintf("Cannot open a port for the target's debugger to connect to: %v.", err),
			"Check that the loopback interface (127.0.0.1) is up in the target's network.")
	}
	f, err := ln.File()
	if err != nil {
		ln.Close()
		return nil, attacherr.Wrap(err, attacherr.Internal, fmt.Sprintf("Cannot hand the listening socket to debugpy's adapter: %v.", err), attacherr.ReportLog)
	}
	s := &adapterSide{ctx: ctx, req: req, target: target, python: python, listener: ln, file: f,
		addr: bootstrap.AdapterAddr{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, ServerToken: newToken(), ClientToken: newToken()}}
	req.Progress(fmt.Sprintf("debugpy's adapter runs beside pyattach with %s (%s)", python, why))
	if home := s.expectedHome(); home != "" {
		s.start(home)
	}
	return s, nil
}

// expectedHome is the debugpy the bootstrap will most likely pick, as
// pyattach names it; "" when it cannot be told before the bootstrap runs.
func (s *adapterSide) expectedHome() string {
	if s.req.DebugpyPath != "" {
		return hostPath(s.target.Process.PID, s.req.DebugpyPath)
	}
	if debugpydist.Installed(s.req.SuppliedDir) {
		return s.req.SuppliedDir
	}
	return ""
}

func (s *adapterSide) start(home string) {
	s.req.Log.Info("starting debugpy's adapter", "python", s.python, "debugpy", home)
	a, err := adapterproc.Start(adapterproc.Options{
		Python: s.python, DebugpyHome: home, Listener: s.file,
		ServerToken: s.addr.ServerToken, ClientToken: s.addr.ClientToken,
		LogDir: s.req.DebugpyLogDir, Log: s.req.Log,
	})
	if err != nil {
		s.err = adapterError(err, s.python)
		return
	}
	s.adapter = a
}

// serve answers the bootstrap's "adapter" call: it makes sure the adapter
// runs the debugpy the bootstrap imported (the same version: the adapter
// and pydevd speak debugpy's private protocol) and is ready, and says
// where to connect.
func (s *adapterSide) serve(_ context.Context, d bootstrap.Debugpy) (bootstrap.AdapterAddr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adapter != nil {
		info, err := s.adapter.Ready(s.ctx)
		if err == nil && info.DebugpyVersion == d.Version {
			return s.addr, nil
		}
		s.adapter.Close()
		s.adapter = nil
		if err == nil {
			s.req.Progress(fmt.Sprintf("the target's debugpy is %s, not %s: starting debugpy's adapter again with the target's", d.Version, info.DebugpyVersion))
		}
	}
	if s.adapter == nil {
		s.err = nil
		s.start(hostPath(s.target.Process.PID, string(d.Home)))
	}
	if s.err != nil {
		return bootstrap.AdapterAddr{}, s.err
	}
	info, err := s.adapter.Ready(s.ctx)
	if err != nil {
		s.err = adapterError(err, s.python)
		return bootstrap.AdapterAddr{}, s.err
	}
	if info.DebugpyVersion != d.Version {
		s.req.Log.Warn("debugpy's adapter runs another debugpy version than the target's", "adapter", info.DebugpyVersion, "target", d.Version)
	}
	return s.addr, nil
}

// failure is the adapter's error, if it is why the bootstrap failed.
func (s *adapterSide) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// running returns the adapter that serves the session.
func (s *adapterSide) running() *adapterproc.Adapter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adapter
}

// settle closes pyattach's copies of the listener once the target's
// debugpy has connected: only the adapter needs it from then on (a child
// process connects to it), and no restart can follow.
func (s *adapterSide) settle() {
	s.listener.Close()
	s.file.Close()
}

// close stops the adapter and the listener. Closing twice is harmless.
func (s *adapterSide) close() {
	s.mu.Lock()
	a := s.adapter
	s.mu.Unlock()
	if a != nil {
		a.Close()
	}
	s.listener.Close()
	s.file.Close()
}

func adapterError(err error, python string) error {
	return attacherr.Wrap(err, attacherr.AdapterFailed,
		fmt.Sprintf("debugpy's adapter (which runs beside pyattach, with %s) failed to start: %v.", python, err),
		fmt.Sprintf("Set %s to a CPython 3.8 or newer that can import this debugpy, or see the log written by --log FILE.", PythonEnv))
}

// adapterPython picks the interpreter that runs debugpy's adapter and says
// why: the user's choice; else the target's own interpreter, where the
// target is one and shares pyattach's file system; else a python3 on PATH
// (the target's version first).
func adapterPython(target *Target) (python, why string, err error) {
	if p := os.Getenv(PythonEnv); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", "", attacherr.Wrap(err, attacherr.NoAdapterPython, fmt.Sprintf("%s names %q, which cannot be run: %v.", PythonEnv, p, err),
				fmt.Sprintf("Set %s to a CPython 3.8 or newer, or unset it.", PythonEnv))
		}
		return path, PythonEnv, nil
	}
	exe := target.Process.Exe
	same, _ := sameRoot(target.Process.PID)
	switch {
	case strings.HasSuffix(exe, " (deleted)"):
		why = "the target's program has been deleted or replaced since it started"
	case !interpreterName.MatchString(filepath.Base(exe)):
		why = fmt.Sprintf("the target's program %s is not a Python interpreter", exe)
	case !same:
		why = "the target has another root file system"
	default:
		return exe, "the target's own interpreter", nil
	}
	v := target.Python.Version
	name := fmt.Sprintf("python%d.%d", v.Major, v.Minor)
	if py := besideLibrary(target, name); same && py != "" {
		return py, why + "; this interpreter goes with its libpython", nil
	}
	for _, name := range []string{name, "python3"} {
		if path := lookPathNoShims(name); path != "" {
			return path, why, nil
		}
	}
	return "", "", attacherr.New(attacherr.NoAdapterPython,
		fmt.Sprintf("No Python interpreter to run debugpy's adapter: %s, and there is no python3 on PATH.", why),
		fmt.Sprintf("Install python3 (3.8 or newer), or set %s to one.", PythonEnv))
}

// besideLibrary finds the interpreter installed with the target's shared
// libpython (a program that embeds CPython links one): PREFIX/bin/NAME
// for PREFIX/lib/libpythonX.Y.so.
func besideLibrary(target *Target, name string) string {
	if !target.Python.Shared {
		return ""
	}
	py := filepath.Join(filepath.Dir(filepath.Dir(target.Python.Library)), "bin", name)
	if path, err := exec.LookPath(py); err == nil {
		return path
	}
	return ""
}

// lookPathNoShims is exec.LookPath but skips version managers' shims
// (pyenv's): scripts that pick an interpreter by the current directory,
// slowly, and may pick none.
func lookPathNoShims(name string) string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" || filepath.Base(dir) == "shims" {
			continue
		}
		if path, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return path
		}
	}
	return ""
}

// hostPath is how pyattach names a path of process pid's file system.
func hostPath(pid int, path string) string {
	if same, err := sameRoot(pid); err != nil || same {
		return path
	}
	return fmt.Sprintf("/proc/%d/root%s", pid, path)
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux (Go 1.24+)
	return hex.EncodeToString(b)
}
