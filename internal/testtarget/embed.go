package testtarget

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// embeddingHost is a program that embeds CPython, as an application or a
// server that runs Python inside does: it is not a Python interpreter
// (sys.executable names it), and runs the script its first argument names.
const embeddingHost = `#include <Python.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT\n", argv[0]);
        return 2;
    }
    FILE *script = fopen(argv[1], "r");
    if (script == NULL) {
        perror(argv[1]);
        return 2;
    }
    Py_Initialize();
    int failed = PyRun_SimpleFileEx(script, argv[1], 1);
    Py_Finalize();
    return failed ? 1 : 0;
}
`

// EmbeddingHost builds, with the C compiler and py's pythonX.Y-config
// (--embed), a program that links py's libpython and runs a script, and
// returns it as an Interpreter that Start can run a fixture with. ok is
// false, with the reason, when py has no -config or there is no compiler.
func EmbeddingHost(t testing.TB, py Interpreter) (host Interpreter, reason string) {
	t.Helper()
	config := filepath.Join(filepath.Dir(py.Path), "python"+py.Version[:strings.LastIndexByte(py.Version, '.')]+"-config")
	if _, err := os.Stat(config); err != nil {
		return Interpreter{}, "no " + filepath.Base(config) + " beside " + py.Path
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return Interpreter{}, "no C compiler (cc)"
	}
	flags := func(args ...string) []string {
		out, err := exec.Command(config, args...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", config, args, err)
		}
		return strings.Fields(string(out))
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "host.c"), filepath.Join(dir, "embedding-host")
	if err := os.WriteFile(src, []byte(embeddingHost), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append(flags("--cflags"), "-w", "-o", bin, src), flags("--embed", "--ldflags")...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("building the embedding host with %s: %v\n%s", config, err, out)
	}
	host = py
	host.Path, host.Label, host.Debugpy = bin, py.Label+"-embedded", py.Debugpy
	return host, ""
}
