package bootstrap

import (
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// loader is what the stub runs on a new thread; it fetches source, the
// bootstrap proper, over the control channel.
//
//go:embed loader.py
var loader string

//go:embed bootstrap.py
var source string

// Config is what one bootstrap needs to know. Listener.Config fills in the
// channel; the session adds the rest.
type Config struct {
	Port          int     // the Listener's port on 127.0.0.1
	Token         string  // the Listener's one-time token
	DebugpyPath   string  // a directory the user named that holds the debugpy package; "" for none
	SuppliedPath  string  // pyattach's own copy of debugpy, used when the target has none; "" for none
	DebugpyLogDir string  // where debugpy should write its logs; "" for no logs
	SubProcess    *bool   // debugpy's subProcess setting, when the client chose one
	Buffer        *Buffer // the memory holding the stub, for the bootstrap to unmap when done
	// Queued says the stub runs at a safe point of a main thread that was
	// running Python (a pending call, or PEP 768's remote exec), rather
	// than on one blocked outside the interpreter. See Program.
	Queued bool
}

// MainThreadHold bounds how long a queued stub keeps the main thread
// waiting for the bootstrap (see Program).
const MainThreadHold = 5 // seconds

// Buffer is a region of the target's memory that the bootstrap must unmap
// once it has run, because pyattach has detached before the stub ran (the
// pending-call strategy).
type Buffer struct {
	Addr uint64
	Size uint64
}

// wireConfig is Config as bootstrap.py reads it.
type wireConfig struct {
	Port          int       `json:"port"`
	Token         string    `json:"token"`
	DebugpyPath   string    `json:"debugpy_path,omitempty"`
	SuppliedPath  string    `json:"supplied_path,omitempty"`
	DebugpyLogDir string    `json:"debugpy_log_dir,omitempty"`
	SubProcess    *bool     `json:"sub_process,omitempty"`
	Buffer        [2]string `json:"buffer"`
}

// Program returns the NUL-terminated C string to pass to PyRun_SimpleString.
//
// The stub runs on the target's main thread. It starts the loader on a
// threading.Thread, which both imports threading there first — the module
// takes the thread that first imports it as the main thread, and debugpy
// ends its session when that thread dies, so the short-lived worker must
// not be the first — and leaves no trace in threading's registry once the
// worker ends (a thread started with _thread would stay in the debugger's
// thread list forever as a "Dummy" thread).
//
// A queued stub then waits, with the GIL released, until the bootstrap has
// started debugpy and the editor has configured the session (Listener.
// Configured), or the attach failed — at most MainThreadHold seconds. The
// main thread it runs on was running Python, and a program that holds the
// GIL through long calls into C (a slow regular expression, a big sort)
// would otherwise hand the bootstrap, and then debugpy, the GIL only
// between those calls: importing and starting debugpy needs it hundreds of
// times, each of the editor's setup requests a few more, and the attach
// would take minutes. Waiting costs the main thread about half a second
// once; the bound keeps a bootstrap stuck behind a lock the main thread
// holds (an import it was in the middle of) from stopping the program for
// long. A stub run on a main thread blocked outside Python returns at
// once: that thread was not competing for the GIL.
//
// The stub carries only the loader (about a kilobyte), so that injecting
// it costs little; the loader fetches the bootstrap over the channel.
// Its length depends only on which optional fields are set and on their
// lengths, never on Buffer's values (they are written at a fixed width), so
// a caller can size the buffer with a zero Buffer and then render again with
// the real one.
func Program(cfg Config) []byte {
	done := "None"
	if cfg.Queued {
		done = "__import__('threading').Event()"
	}
	stub := fmt.Sprintf("try:\n"+
		"    (lambda threading, done: threading.Thread(target=exec, name='pyattach-bootstrap', daemon=True, args=(bytes.fromhex('%s').decode('utf-8'), "+
		"{'__name__': '_pyattach_loader', '_PYATTACH_CONFIG': '%s', '_PYATTACH_DONE': done})).start() or done and done.wait(%d))"+
		"(__import__('threading'), %s)\n"+
		"except BaseException:\n"+
		"    pass\n",
		hex.EncodeToString([]byte(loader)), hex.EncodeToString(encodeConfig(cfg)), MainThreadHold, done)
	return append([]byte(stub), 0)
}

// encodeConfig renders cfg as bootstrap.py's JSON. Paths go as the hex of
// their bytes: a Linux path need not be valid UTF-8, and JSON strings must be.
func encodeConfig(cfg Config) []byte {
	w := wireConfig{
		Port:          cfg.Port,
		Token:         cfg.Token,
		DebugpyPath:   hex.EncodeToString([]byte(cfg.DebugpyPath)),
		SuppliedPath:  hex.EncodeToString([]byte(cfg.SuppliedPath)),
		DebugpyLogDir: hex.EncodeToString([]byte(cfg.DebugpyLogDir)),
		SubProcess:    cfg.SubProcess,
	}
	if cfg.Buffer != nil {
		w.Buffer = [2]string{fmt.Sprintf("%016x", cfg.Buffer.Addr), fmt.Sprintf("%016x", cfg.Buffer.Size)}
	}
	b, err := json.Marshal(w)
	if err != nil {
		panic(fmt.Sprintf("bootstrap: encoding a config of plain fields cannot fail: %v", err))
	}
	return b
}
