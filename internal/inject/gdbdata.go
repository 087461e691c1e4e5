package inject

import (
	"os"
	"path/filepath"
	"sync"
)

// gdbDataDir returns a GDB data directory whose Python package "gdb" is
// empty, or "" to let gdb use its own.
//
// Debian's gdb embeds Python and, as it starts, imports the gdb package
// from its data directory, which loads its pretty-printers, commands and
// convenience functions: half of gdb's start-up (20 of 40 ms here), on the
// way to every attach, for nothing pyattach uses — it drives gdb over MI
// with auto-load off. Pointed at this directory, gdb imports an empty
// package and starts without its Python layer, silently. (The data
// directory's other contents, syscall tables and the system gdbinit, are
// not used either.) It lives in pyattach's cache; when that cannot be
// written, gdb keeps its own.
var gdbDataDir = sync.OnceValue(func() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return makeGDBDataDir(filepath.Join(cache, "pyattach", "gdb-data-directory"))
})

// makeGDBDataDir makes dir the data directory gdbDataDir describes, if it
// is not already, and returns it; "" if it cannot.
func makeGDBDataDir(dir string) string {
	pkg := filepath.Join(dir, "python", "gdb", "__init__.py")
	if _, err := os.Stat(pkg); err == nil {
		return dir
	}
	// One comment line: a reader that races a writer sees a prefix of it,
	// which is an empty package all the same.
	const body = "# pyattach: gdb without its Python layer (see pyattach's inject/gdbdata.go)\n"
	if os.MkdirAll(filepath.Dir(pkg), 0o700) != nil || os.WriteFile(pkg, []byte(body), 0o600) != nil {
		return ""
	}
	return dir
}
