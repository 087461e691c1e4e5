package remoteexec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pyattach/pyattach/internal/procfs"
)

// ErrNotSupported means that the process cannot be attached to by remote
// exec: its CPython predates 3.14, is newer than the layouts pyattach knows,
// is a pre-release or a free-threaded build, or has no _PyRuntime to find.
// The caller falls back to injecting with gdb.
var ErrNotSupported = errors.New("remote exec not supported")

// cookie opens every _Py_DebugOffsets (_Py_Debug_Cookie).
const cookie = "xdebugpy"

// headerSize is what every version's _Py_DebugOffsets starts with: the
// cookie, PY_VERSION_HEX and the free-threaded flag, 8 bytes each. The rest
// of the layout depends on the minor version these name.
const headerSize = 24

// layout says where the fields that pyattach uses sit in one minor version's
// _Py_DebugOffsets, as byte offsets of uint64 fields into the structure. The
// numbers that the structure holds are read from the target, which is the
// source of truth; the layout only says where to find them and how large the
// structure is, so that validate can cross-check it against the target's
// own _PyRuntimeState offsets.
type layout struct {
	from string // the release and file the layout was taken from
	size int    // sizeof(_Py_DebugOffsets)

	runtimeSize, finalizing, interpretersHead int // runtime_state

	interpSize, interpID, interpNext, threadsHead, threadsMain int // interpreter_state

	threadSize, threadNext, nativeThreadID int // thread_state

	// debugger_support (PEP 768): eval_breaker and remote_debugger_support
	// are offsets in PyThreadState, remote_debugging_enabled in
	// PyInterpreterState, debugger_pending_call and debugger_script_path in
	// _PyRemoteDebuggerSupport; debugger_script_path_size is the size of the
	// path buffer.
	evalBreaker, remoteSupport, remoteEnabled, pendingCall, scriptPath, scriptPathSize int
}

// layouts holds one layout per CPython 3 minor version that supports PEP 768,
// keyed by the minor version. CPython keeps _Py_DebugOffsets stable across
// the patch releases of a minor version.
var layouts = map[int]layout{
	14: {
		from: "CPython 3.14.8 (Debian forky python3.14 3.14.8): Include/internal/pycore_debug_offsets.h, " +
			"95 uint64 words read from the .PyRuntime section of python3.14 and libpython3.14.so.1.0",
		size: 760,

		runtimeSize: 24, finalizing: 32, interpretersHead: 40,

		interpSize: 48, interpID: 56, interpNext: 64, threadsHead: 72, threadsMain: 80,

		threadSize: 176, threadNext: 192, nativeThreadID: 224,

		evalBreaker: 712, remoteSupport: 720, remoteEnabled: 728, pendingCall: 736, scriptPath: 744, scriptPathSize: 752,
	},
	// 3.15 puts three more PyThreadState offsets after current_frame, which
	// moves native_thread_id two words on, and sixteen more words before
	// debugger_support. Checked against a live 3.15 process: the word at
	// native_thread_id of each of its thread states is that thread's TID.
	15: {
		from: "CPython 3.15.0 (Debian forky python3.15 3.15.0): 111 uint64 words read from the .PyRuntime section of python3.15",
		size: 888,

		runtimeSize: 24, finalizing: 32, interpretersHead: 40,

		interpSize: 48, interpID: 56, interpNext: 64, threadsHead: 72, threadsMain: 80,

		threadSize: 176, threadNext: 192, nativeThreadID: 248,

		evalBreaker: 840, remoteSupport: 848, remoteEnabled: 856, pendingCall: 864, scriptPath: 872, scriptPathSize: 880,
	},
}

// debugOffsets is what pyattach uses of a target's _Py_DebugOffsets.
type debugOffsets struct {
	version      procfs.Version
	prerelease   bool // an alpha, beta or release candidate
	freeThreaded bool

	runtimeSize, finalizing, interpretersHead uint64

	interpSize, interpID, interpNext, threadsHead, threadsMain uint64

	threadSize, threadNext, nativeThreadID uint64

	evalBreaker, remoteSupport, remoteEnabled, pendingCall, scriptPath, scriptPathSize uint64
}

// decodeHeader checks the cookie of a _Py_DebugOffsets and returns the layout
// for the version it names. Errors wrap ErrNotSupported.
func decodeHeader(raw []byte) (layout, procfs.Version, error) {
	if len(raw) < headerSize || !bytes.Equal(raw[:len(cookie)], []byte(cookie)) {
		return layout{}, procfs.Version{}, fmt.Errorf("no %q cookie at the start of _PyRuntime (a CPython older than 3.12?): %w", cookie, ErrNotSupported)
	}
	v := versionFromHex(binary.LittleEndian.Uint64(raw[8:]))
	if !v.AtLeast(3, 14) {
		return layout{}, v, fmt.Errorf("CPython %s predates remote exec (PEP 768, 3.14): %w", v, ErrNotSupported)
	}
	l, ok := layouts[v.Minor]
	if v.Major != 3 || !ok {
		return layout{}, v, fmt.Errorf("CPython %s is newer than the debug offsets layouts pyattach knows: %w", v, ErrNotSupported)
	}
	return l, v, nil
}

// decodeOffsets decodes a complete _Py_DebugOffsets, as found at the start of
// _PyRuntime in a file or in a process, and validates it.
func decodeOffsets(raw []byte) (*debugOffsets, error) {
	l, v, err := decodeHeader(raw)
	if err != nil {
		return nil, err
	}
	if len(raw) < l.size {
		return nil, fmt.Errorf("_Py_DebugOffsets of CPython %s: have %d bytes, need %d", v, len(raw), l.size)
	}
	word := func(at int) uint64 { return binary.LittleEndian.Uint64(raw[at:]) }
	hex := word(8)
	off := &debugOffsets{
		version:      v,
		prerelease:   hex&0xf0 != 0xf0,
		freeThreaded: word(16) != 0,

		runtimeSize: word(l.runtimeSize), finalizing: word(l.finalizing), interpretersHead: word(l.interpretersHead),

		interpSize: word(l.interpSize), interpID: word(l.interpID), interpNext: word(l.interpNext),
		threadsHead: word(l.threadsHead), threadsMain: word(l.threadsMain),

		threadSize: word(l.threadSize), threadNext: word(l.threadNext), nativeThreadID: word(l.nativeThreadID),

		evalBreaker: word(l.evalBreaker), remoteSupport: word(l.remoteSupport), remoteEnabled: word(l.remoteEnabled),
		pendingCall: word(l.pendingCall), scriptPath: word(l.scriptPath), scriptPathSize: word(l.scriptPathSize),
	}
	if err := off.validate(l); err != nil {
		return nil, fmt.Errorf("_Py_DebugOffsets of CPython %s: %w", v, err)
	}
	return off, nil
}

// versionFromHex decodes PY_VERSION_HEX, 0xMMmmppRS.
func versionFromHex(hex uint64) procfs.Version {
	return procfs.Version{Major: int(hex >> 24 & 0xff), Minor: int(hex >> 16 & 0xff), Patch: int(hex >> 8 & 0xff)}
}

// maxStructSize bounds the structure sizes that validate believes: the
// largest, PyInterpreterState, is about 220 KiB in 3.14.
const maxStructSize = 16 << 20

// validate refuses builds that pyattach does not support and cross-checks
// the offsets against the layout and against each other, so that a layout
// that does not match the target's build (a patch release that changed the
// structure after all, a vendor patch) is refused rather than used to write
// into the target.
func (off *debugOffsets) validate(l layout) error {
	switch {
	case off.prerelease:
		return fmt.Errorf("a pre-release, whose debug offsets may differ from the release's (%s): %w", l.from, ErrNotSupported)
	case off.freeThreaded:
		return fmt.Errorf("a free-threaded build (%d.%dt), which pyattach's remote exec has not been verified with: %w",
			off.version.Major, off.version.Minor, ErrNotSupported)
	}
	checks := []struct {
		ok   bool
		what string
	}{
		// The runtime's own fields follow _Py_DebugOffsets in _PyRuntimeState.
		{uint64(l.size) <= off.finalizing && off.finalizing < off.runtimeSize, "runtime_state.finalizing does not follow _Py_DebugOffsets"},
		{uint64(l.size) <= off.interpretersHead && off.interpretersHead+8 <= off.runtimeSize, "runtime_state.interpreters_head does not follow _Py_DebugOffsets"},
		{0 < off.interpSize && off.interpSize <= maxStructSize, "interpreter_state.size is implausible"},
		{0 < off.threadSize && off.threadSize <= maxStructSize, "thread_state.size is implausible"},
		{fits(off.interpSize, 8, off.interpID, off.interpNext, off.threadsHead, off.threadsMain), "an interpreter_state offset lies outside PyInterpreterState"},
		{fits(off.interpSize, 4, off.remoteEnabled), "debugger_support.remote_debugging_enabled lies outside PyInterpreterState"},
		{fits(off.threadSize, 8, off.threadNext, off.nativeThreadID, off.evalBreaker), "a thread_state offset lies outside PyThreadState"},
		{off.scriptPathSize > 1, "debugger_support.debugger_script_path_size is too small"},
		{fits(off.threadSize, 4, off.remoteSupport+off.pendingCall), "debugger_support.debugger_pending_call lies outside PyThreadState"},
		{fits(off.threadSize, off.scriptPathSize, off.remoteSupport+off.scriptPath), "debugger_support.debugger_script_path lies outside PyThreadState"},
	}
	for _, c := range checks {
		if !c.ok {
			return fmt.Errorf("does not match the layout from %s: %s: %w", l.from, c.what, ErrNotSupported)
		}
	}
	return nil
}

// fits reports whether fields of the given width at each offset lie within a
// structure of the given size.
func fits(size, width uint64, offsets ...uint64) bool {
	for _, o := range offsets {
		if o > size || width > size-o {
			return false
		}
	}
	return true
}
