package remoteexec

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/forkyroot"
)

// pyRuntimeSection returns the .PyRuntime section of the ELF file at path
// as stored in the file: _PyRuntime's initializer, which starts with the
// build's _Py_DebugOffsets.
func pyRuntimeSection(t *testing.T, path string) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".PyRuntime")
	if s == nil {
		t.Fatalf("%s has no .PyRuntime section", path)
	}
	data, err := s.Data()
	if err != nil {
		t.Fatalf("reading .PyRuntime of %s: %v", path, err)
	}
	return data
}

// TestDecodeRealBinaries decodes the debug offsets of Debian's CPython 3.14
// and 3.15, the executables (which link libpython statically) and 3.14's
// shared libpython, and checks what the protocol relies on.
func TestDecodeRealBinaries(t *testing.T) {
	root := forkyroot.Require(t)
	files := map[string]int{"usr/bin/python3.14": 14, "usr/lib/x86_64-linux-gnu/libpython3.14.so.1.0": 14, "usr/bin/python3.15": 15}
	for file, minor := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data := pyRuntimeSection(t, filepath.Join(root, file))
			off, err := decodeOffsets(data)
			if err != nil {
				t.Fatal(err)
			}
			if off.version.Major != 3 || off.version.Minor != minor || off.freeThreaded || off.prerelease {
				t.Errorf("version %s, free-threaded %v, pre-release %v; want a 3.%d release with the GIL", off.version, off.freeThreaded, off.prerelease, minor)
			}
			if off.runtimeSize != uint64(len(data)) {
				t.Errorf("runtime_state.size = %d, want the size of .PyRuntime, %d", off.runtimeSize, len(data))
			}
			checks := []struct {
				name      string
				got, want uint64
			}{
				// PyThreadState begins with prev, next and interp; eval_breaker follows.
				{"thread_state.next", off.threadNext, 8},
				{"debugger_support.eval_breaker", off.evalBreaker, 24},
				// _PyRemoteDebuggerSupport is {int debugger_pending_call; char debugger_script_path[512];}.
				{"debugger_support.debugger_pending_call", off.pendingCall, 0},
				{"debugger_support.debugger_script_path", off.scriptPath, 4},
				{"debugger_support.debugger_script_path_size", off.scriptPathSize, 512},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestDecodeRefuses mutates the real 3.14 debug offsets into what pyattach
// must refuse.
func TestDecodeRefuses(t *testing.T) {
	section := pyRuntimeSection(t, filepath.Join(forkyroot.Require(t), "usr/bin/python3.14"))
	l := layouts[14]
	put := func(at int, v uint64) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint64(b[at:], v) }
	}
	tests := []struct {
		name   string
		mutate func([]byte)
		want   string // in the error
		unsupp bool   // whether the error wraps ErrNotSupported
	}{
		{"bad cookie", func(b []byte) { copy(b, "ydebugpy") }, "cookie", true},
		{"3.13", put(8, 0x030d00f0), "predates", true},
		{"3.16", put(8, 0x031000f0), "newer than", true},
		{"4.14", put(8, 0x040e00f0), "newer than", true},
		{"release candidate", put(8, 0x030e00c1), "pre-release", true},
		{"free-threaded", put(16, 1), "free-threaded", true},
		{"offsets grew into the runtime", put(l.finalizing, uint64(l.size-8)), "runtime_state.finalizing", true},
		{"script path size zero", put(l.scriptPathSize, 0), "debugger_script_path_size", true},
		{"script path past the thread state", put(l.scriptPathSize, 1<<20), "debugger_script_path", true},
		{"pending call past the thread state", put(l.remoteSupport, 1<<30), "debugger_pending_call", true},
		{"eval breaker past the thread state", put(l.evalBreaker, 1<<30), "thread_state offset", true},
		{"main thread past the interpreter", put(l.threadsMain, 1<<30), "interpreter_state offset", true},
		{"truncated", nil, "need 760", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := append([]byte(nil), section[:l.size]...)
			if tt.mutate != nil {
				tt.mutate(raw)
			} else {
				raw = raw[:100]
			}
			_, err := decodeOffsets(raw)
			if err == nil {
				t.Fatal("decoded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if errors.Is(err, ErrNotSupported) != tt.unsupp {
				t.Errorf("errors.Is(%q, ErrNotSupported) = %v, want %v", err, !tt.unsupp, tt.unsupp)
			}
		})
	}
}

// TestDecode313 checks that a real 3.13, whose _Py_DebugOffsets has a cookie
// but no debugger support, is refused by its version.
func TestDecode313(t *testing.T) {
	lib := filepath.Join(filepath.Dir(filepath.Dir(python313)), "lib", "libpython3.13.so.1.0")
	if _, err := elf.Open(lib); err != nil {
		t.Skipf("no CPython 3.13 library: %v", err)
	}
	_, err := decodeOffsets(pyRuntimeSection(t, lib))
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "3.13.0 predates") {
		t.Errorf("decoding 3.13.0: %v, want ErrNotSupported naming 3.13.0", err)
	}
}
