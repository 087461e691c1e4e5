package inject

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"
)

// TestTrampolineListing disassembles the trampoline pyattach writes into
// arm64 targets and compares it with a reviewed listing
// (testdata/trampoline_arm64.golden). On an x86-64 machine it runs under
// qemu-user: GOARCH=arm64 go test -exec qemu-aarch64-static ./internal/inject
// -run 'TestTrampolineListing|TestA64' (add -update to rewrite the listing).
func TestTrampolineListing(t *testing.T) {
	checkGolden(t, "trampoline_arm64.golden", trampolineListing(t, decodeA64))
}

// decodeA64 decodes one instruction, in GNU syntax.
func decodeA64(code []byte, pc int) (int, string, error) {
	inst, err := arm64asm.Decode(code)
	if err != nil {
		return 0, "", err
	}
	return 4, a64Text(inst), nil
}

// a64Text is an instruction in GNU syntax, without trailing blanks.
func a64Text(inst arm64asm.Inst) string { return strings.TrimSpace(arm64asm.GNUSyntax(inst)) }

// TestA64Encodings checks every instruction form of the builder, at the
// edges of its operands, against the disassembler.
func TestA64Encodings(t *testing.T) {
	for _, c := range []struct {
		emit func(a *a64)
		want string
	}{
		{func(a *a64) { a.addImm(x9, sp, 0) }, "mov x9, sp"},
		{func(a *a64) { a.addImm(sp, x9, 0) }, "mov sp, x9"},
		{func(a *a64) { a.addImm(x1, x19, 4095) }, "add x1, x19, #0xfff"},
		{func(a *a64) { a.subImm(x9, x9, 4096) }, "sub x9, x9, #0x1, lsl #12"},
		{func(a *a64) { a.mov(x19, x9) }, "mov x19, x9"},
		{func(a *a64) { a.movW(x20, x0) }, "mov w20, w0"},
		{func(a *a64) { a.movz(x8, 0xffff) }, "mov x8, #0xffff"},
		{func(a *a64) { a.movMinus1(x4) }, "mov x4, #0xffffffffffffffff"},
		{func(a *a64) { a.alignDown(x9, x9, 6) }, "and x9, x9, #0xffffffffffffffc0"},
		{func(a *a64) { a.alignDown(x9, x9, 12) }, "and x9, x9, #0xfffffffffffff000"},
		{func(a *a64) { a.ldrX(x16, x19, 8*4095) }, "ldr x16, [x19,#32760]"},
		{func(a *a64) { a.ldrW(x1, x19, 64) }, "ldr w1, [x19,#64]"},
		{func(a *a64) { a.ldrB(x9, x19, 73) }, "ldrb w9, [x19,#73]"},
		{func(a *a64) { a.strX(x0, x19, 56) }, "str x0, [x19,#56]"},
		{func(a *a64) { a.strW(x11, x19, 4) }, "str w11, [x19,#4]"},
		{func(a *a64) { a.strB(x9, x19, 72) }, "strb w9, [x19,#72]"},
		{func(a *a64) { a.ldrBPost(x4, x1) }, "ldrb w4, [x1],#1"},
		{func(a *a64) { a.strBPost(x4, x3) }, "strb w4, [x3],#1"},
		{func(a *a64) { a.stpQ(30, 31, x10, 1008) }, "stp q30, q31, [x10,#1008]"},
		{func(a *a64) { a.pushFrame() }, "stp x29, x30, [sp,#-16]!"},
		{func(a *a64) { a.popFrame() }, "ldp x29, x30, [sp],#16"},
		{func(a *a64) { a.mrs(x11, sysFPSR) }, "mrs x11, s3_3_c4_c4_1"}, // fpsr
		{func(a *a64) { a.mrs(x11, sysFPCR) }, "mrs x11, s3_3_c4_c4_0"}, // fpcr
		{func(a *a64) { a.subsW(x2, x2, 1) }, "subs w2, w2, #0x1"},
		{func(a *a64) { a.cmnX(x0, 4095) }, "cmn x0, #0xfff"},
		{func(a *a64) { a.br(x16) }, "br x16"},
		{func(a *a64) { a.blr(x16) }, "blr x16"},
		{func(a *a64) { a.svc() }, "svc #0x0"},
		{func(a *a64) { a.nop() }, "nop"},
	} {
		a := newA64()
		c.emit(a)
		code, err := a.bytes()
		if err != nil {
			t.Fatalf("%s: %v", c.want, err)
		}
		inst, err := arm64asm.Decode(code)
		if got := a64Text(inst); err != nil || got != c.want {
			t.Errorf("%08x: got %q (%v), want %q", binary.LittleEndian.Uint32(code), got, err, c.want)
		}
	}
}

// TestA64Branches checks label references backwards and forwards.
func TestA64Branches(t *testing.T) {
	a := newA64()
	a.label("back").nop()
	a.b("fwd").bCond(condNE, "back").cbzW(x9, "fwd").cbnzX(x0, "back").adr(x0, "data").ldrLit(x16, "data")
	a.label("fwd").nop().align8().label("data").quad(7)
	code, err := a.bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nop", "b .+0x18", "b.ne .+0xfffffffffffffff8", "cbz w9, .+0x10", "cbnz x0, .+0xfffffffffffffff0", "adr x0, .+0xc", "ldr x16, .+0x8", "nop"}
	for i, w := range want {
		inst, err := arm64asm.Decode(code[4*i:])
		if got := a64Text(inst); err != nil || got != w {
			t.Errorf("instruction %d: got %q (%v), want %q", i, got, err, w)
		}
	}
}

// TestA64OperandErrors checks that operands out of range are refused.
func TestA64OperandErrors(t *testing.T) {
	for name, emit := range map[string]func(a *a64){
		"unaligned":  func(a *a64) { a.ldrX(x0, x19, 4) },
		"far":        func(a *a64) { a.ldrW(x0, x19, 4*4096) },
		"wide movz":  func(a *a64) { a.movz(x0, 1<<16) },
		"wide add":   func(a *a64) { a.addImm(x0, x0, 1<<24) },
		"stp offset": func(a *a64) { a.stpQ(0, 1, x10, 1024) },
		"far branch": func(a *a64) { a.cbzW(x0, "far").raw(make([]byte, 1<<20)).label("far") },
	} {
		a := newA64()
		emit(a)
		if _, err := a.bytes(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSignalFrame checks the frame rt_sigreturn loads against the offsets
// of Linux's arm64 uapi headers (struct rt_sigframe: siginfo, 128 bytes,
// then struct ucontext, whose uc_mcontext is at 176; struct sigcontext:
// fault_address, regs[31], sp, pc, pstate, then __reserved at 288 holding
// struct fpsimd_context), written out here independently of the constants
// the trampoline uses.
func TestSignalFrame(t *testing.T) {
	regs := map[string]uint64{}
	for i, name := range regOrder {
		regs[name] = uint64(0x1000 + i)
	}
	d, err := dataBlock([numSlots]uint64{1, 2, 3, 4, 5, 6}, 0x5000, 0x7000, 0x9000, regs, []byte{0xaa}, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	frame := d[dFrame:]
	le := binary.LittleEndian
	const mcontext = 128 + 176
	for i := 0; i < 31; i++ {
		if got := le.Uint64(frame[mcontext+8+8*i:]); got != uint64(0x1000+i) {
			t.Errorf("x%d = %#x", i, got)
		}
	}
	for _, f := range []struct {
		name      string
		off, want uint64
	}{
		{"sp (the original)", mcontext + 256, 0x9000},
		{"pc (the resume point)", mcontext + 264, 0x7000},
		{"pstate (gdb's cpsr)", mcontext + 272, 0x1000 + 33},
		{"FP/SIMD record: magic and size", mcontext + 288, 0x46508001 | 528<<32},
		{"the record after it: the (0, 0) terminator", mcontext + 288 + 528, 0},
		{"uc_flags", 128, 0},
		{"uc_link", 136, 0},
	} {
		if got := le.Uint64(frame[f.off:]); got != f.want {
			t.Errorf("%s at %d = %#x; want %#x", f.name, f.off, got, f.want)
		}
	}
	// Where stage 1 stores what the tracer cannot read.
	for _, f := range []struct {
		name      string
		got, want int
	}{
		{"uc_stack", fUCStack - dFrame, 128 + 16},
		{"uc_sigmask", fUCSigmask - dFrame, 128 + 40},
		{"fpsr", fFPSR - dFrame, mcontext + 288 + 8},
		{"fpcr", fFPCR - dFrame, mcontext + 288 + 12},
		{"vregs", fVRegs - dFrame, mcontext + 288 + 16},
	} {
		if f.got != f.want {
			t.Errorf("%s at %d; want %d", f.name, f.got, f.want)
		}
	}
	if fVRegs%16 != 0 || (dFrame+mcontext+288)%16 != 0 || dataAddr(0x7fff0123)%64 != 0 {
		t.Error("the frame's records or the data block are misaligned")
	}
	if d[dBlock] != 0xaa || le.Uint32(d[dLen:]) != 1 || le.Uint32(d[dSize:]) != 0x1000 || le.Uint64(d[dStage3:]) != 0x5000 {
		t.Error("the block, its length, the buffer size or stage 3's address is misplaced")
	}
}

// TestFixedCodeFits checks stages 1 and 3 against the smallest
// __libc_start_main they must fit in: bookworm's arm64 glibc 2.36 (344
// bytes).
func TestFixedCodeFits(t *testing.T) {
	fixed, _, err := fixedCode()
	if err != nil {
		t.Fatal(err)
	}
	if len(fixed) > 344 {
		t.Errorf("stages 1 and 3 take %d bytes; bookworm's __libc_start_main has 344", len(fixed))
	}
}
