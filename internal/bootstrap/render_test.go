package bootstrap

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// harness runs a rendered stub the way PyRun_SimpleString would (in a
// __main__ namespace), but with threading.Thread replaced so that nothing
// starts: it prints what the stub would have run — the loader's source and
// the decoded config — and whether __main__ gained any names.
const harness = `
import json, sys, threading
captured = {}
class FakeThread(object):
    def __init__(self, target=None, name=None, daemon=None, args=()):
        captured.update(f=target, args=args, thread=name, daemon=daemon)
    def start(self):
        captured["started"] = True
threading.Thread = FakeThread
stub = sys.stdin.buffer.read().rstrip(b"\0").decode("ascii")
main = {"__name__": "__main__", "__builtins__": __builtins__}
exec(compile(stub, "<stub>", "exec"), main)
source, ns = captured["args"]
cfg = json.loads(bytes.fromhex(ns["_PYATTACH_CONFIG"]).decode("utf-8"))
def path(key):
    import os
    return os.fsencode(os.fsdecode(bytes.fromhex(cfg.get(key, "")))).hex()
json.dump({
    "exec": captured["f"] is exec and captured["started"] and captured["daemon"] is True,
    "thread": captured["thread"],
    "source": source,
    "name": ns["__name__"],
    "token": cfg["token"],
    "port": cfg["port"],
    "debugpy_path": path("debugpy_path"),
    "supplied_path": path("supplied_path"),
    "log_dir": path("debugpy_log_dir"),
    "buffer": cfg["buffer"],
    "main_names": sorted(k for k in main if k not in ("__name__", "__builtins__")),
}, sys.stdout)
`

type decoded struct {
	Exec        bool      `json:"exec"`
	Thread      string    `json:"thread"`
	Source      string    `json:"source"`
	Name        string    `json:"name"`
	Token       string    `json:"token"`
	Port        int       `json:"port"`
	DebugpyPath string    `json:"debugpy_path"`
	Supplied    string    `json:"supplied_path"`
	LogDir      string    `json:"log_dir"`
	Buffer      [2]string `json:"buffer"`
	MainNames   []string  `json:"main_names"`
}

func runStub(t *testing.T, program []byte) decoded {
	t.Helper()
	cmd := exec.Command(python(t), "-I", "-c", harness)
	cmd.Stdin = bytes.NewReader(program)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running the stub: %v\n%s", err, stderrOf(err))
	}
	var d decoded
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("harness output %q: %v", out, err)
	}
	return d
}

// TestProgramCarriesHostileValuesIntact is the escaping property: whatever
// bytes the paths and token hold — quotes, backslashes, newlines, NULs,
// non-ASCII, bytes that are not UTF-8 — the stub compiles, defines nothing
// in __main__, hands loader.py to a new thread verbatim and delivers
// every value exactly.
func TestProgramCarriesHostileValuesIntact(t *testing.T) {
	hostile := []string{
		`'); import os; os.system('echo pwned'); ('`,
		`"""` + "\n" + `raise SystemExit`,
		`\x00\\\\'"` + "\r\n\t",
		"caf\u00e9 \u2028 \U0001F40D /tmp/ünïcødé",
		"\xff\xfe not utf-8 \x80",
		strings.Repeat("}{", 500),
	}
	check := func(debugpyPath, supplied, token string) bool {
		cfg := Config{Port: 4242, Token: token, DebugpyPath: debugpyPath, SuppliedPath: supplied,
			DebugpyLogDir: debugpyPath + supplied, Buffer: &Buffer{Addr: 0x7f00deadbeef, Size: 8192}}
		d := runStub(t, Program(cfg))
		want := []string{hex.EncodeToString([]byte(debugpyPath)), hex.EncodeToString([]byte(supplied)), hex.EncodeToString([]byte(debugpyPath + supplied))}
		got := []string{d.DebugpyPath, d.Supplied, d.LogDir}
		ok := d.Exec && d.Thread == "pyattach-bootstrap" && d.Source == loader && d.Name == "_pyattach_loader" && d.Port == 4242 &&
			d.Token == viaJSON(token) && len(d.MainNames) == 0 &&
			d.Buffer == [2]string{"00007f00deadbeef", "0000000000002000"}
		for i := range want {
			ok = ok && got[i] == want[i]
		}
		if !ok {
			sourceOK := d.Source == loader
			d.Source = ""
			t.Logf("values %q %q %q: source intact %v, decoded %+v", debugpyPath, supplied, token, sourceOK, d)
		}
		return ok
	}
	for _, h := range hostile {
		if !check(h, h, h) {
			t.Errorf("hostile value %q did not survive", h)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		a, b, c := randomBytes(r), randomBytes(r), randomBytes(r)
		if !check(a, b, c) {
			t.Errorf("random values %q %q %q did not survive", a, b, c)
		}
	}
}

func randomBytes(r *rand.Rand) string {
	b := make([]byte, r.IntN(64))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func TestProgramLengthDoesNotDependOnBufferValues(t *testing.T) {
	cfg := Config{Port: 1, Token: "t", Buffer: &Buffer{}}
	small := Program(cfg)
	cfg.Buffer = &Buffer{Addr: 0x7fffffffffff, Size: 1 << 40}
	if big := Program(cfg); len(big) != len(small) {
		t.Errorf("program length changed with the buffer's values: %d != %d", len(big), len(small))
	}
	if small[len(small)-1] != 0 || bytes.IndexByte(small[:len(small)-1], 0) >= 0 {
		t.Error("program is not a single NUL-terminated C string")
	}
}

// viaJSON is s as a JSON string carries it: bytes that are not UTF-8
// become U+FFFD. Tokens are hex in practice; paths, which need not be
// UTF-8, travel as hex instead.
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// python returns a Python 3 to run the stub with.
func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	return p
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
