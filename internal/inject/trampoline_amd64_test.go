package inject

import (
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// TestTrampolineListing disassembles the trampoline pyattach writes into
// targets and compares it with a reviewed listing
// (testdata/trampoline_amd64.golden), so that every instruction the
// comments in trampoline_amd64.go name is a checked fact, and any change to
// the machine code shows up in review as a change of the listing. Run
// `go test ./inject -run TestTrampolineListing -update` to rewrite it.
func TestTrampolineListing(t *testing.T) {
	checkGolden(t, "trampoline_amd64.golden", trampolineListing(t, decodeX86))
}

// decodeX86 decodes one instruction, in Intel syntax.
func decodeX86(code []byte, pc int) (int, string, error) {
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return 0, "", err
	}
	return inst.Len, x86asm.IntelSyntax(inst, uint64(pc), nil), nil
}
