package inject

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden listings in testdata")

// checkGolden compares a listing with testdata/name, or rewrites it with
// -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the trampoline's machine code differs from %s (rerun with -update once reviewed):\n%s", golden, diffLines(string(want), got))
	}
}

// trampolineListing disassembles stages 1 and 3 and, for each mode, stage 2
// with pendingFn, with decode (one instruction at pc: its length and text).
func trampolineListing(t *testing.T, decode func(code []byte, pc int) (int, string, error)) string {
	t.Helper()
	var b strings.Builder
	fixed, stage3, err := fixedCode()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "# stages 1 and 3 (stage 3 at %#x)\n", stage3)
	b.WriteString(listing(t, fixed, decode))
	stub := stubs{direct: []byte("D\x00"), queued: []byte("Q\x00")}
	for _, mode := range []struct {
		name string
		mode stageMode
	}{{"by the GIL", modeByGIL}, {"pending call", modePending}, {"direct call", modeDirect}} {
		block, err := stage2(mode.mode, 0x1111111111111111, 0x2222222222222222, stub, 0x3000)
		if err != nil {
			t.Fatal(err)
		}
		// Its code ends where the two pointers and the stubs begin.
		code := len(block) - 16 - len(stub.direct) - len(stub.queued)
		fmt.Fprintf(&b, "\n# stage 2 and pendingFn, %s (then: two pointers and the stubs, %d bytes)\n", mode.name, len(block)-code)
		b.WriteString(listing(t, block[:code], decode))
	}
	return b.String()
}

// listing disassembles code, one instruction a line: offset, bytes, and
// the instruction.
func listing(t *testing.T, code []byte, decode func(code []byte, pc int) (int, string, error)) string {
	t.Helper()
	var b strings.Builder
	for pc := 0; pc < len(code); {
		n, text, err := decode(code[pc:], pc)
		if err != nil {
			t.Fatalf("offset %#x: %v (bytes % x)", pc, err, code[pc:min(pc+8, len(code))])
		}
		fmt.Fprintf(&b, "%04x  %-32x %s\n", pc, code[pc:pc+n], text)
		pc += n
	}
	return b.String()
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			out = append(out, fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, wl, gl))
		}
	}
	return strings.Join(out, "\n")
}
