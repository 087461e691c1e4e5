package inject

import (
	"encoding/binary"
	"fmt"
)

// a64 assembles a short AArch64 sequence from typed instructions: every
// method encodes one A64 instruction (or names a label), checks that its
// operands fit, and branches to labels are resolved once everything is
// emitted. The first operand error is kept and returned by bytes, so a
// sequence reads like a listing.
type a64 struct {
	code   []byte
	labels map[string]int
	fixups []a64Fixup
	err    error
}

// xreg is a general register: x0..x30, and 31, which is sp or xzr
// depending on the instruction (as in the encoding).
type xreg uint8

// The registers the trampoline names.
const (
	x0  xreg = 0
	x1  xreg = 1
	x2  xreg = 2
	x3  xreg = 3
	x4  xreg = 4
	x5  xreg = 5
	x8  xreg = 8
	x9  xreg = 9
	x10 xreg = 10
	x11 xreg = 11
	x16 xreg = 16
	x19 xreg = 19
	x20 xreg = 20
	x29 xreg = 29
	x30 xreg = 30
	sp  xreg = 31 // as a base or in add/sub (immediate)
	xzr xreg = 31 // as a source or destination elsewhere
)

// branchKind is how a label's displacement is encoded.
type branchKind int

const (
	brImm26 branchKind = iota // b: bits 0-25, in words
	brImm19                   // b.cond, cbz, cbnz, ldr (literal): bits 5-23, in words
	brAdr                     // adr: immlo bits 29-30, immhi bits 5-23, in bytes
)

type a64Fixup struct {
	at    int
	kind  branchKind
	label string
}

// condition codes of b.cond.
type cond uint32

const (
	condNE cond = 1
	condHS cond = 2 // unsigned >=
)

func newA64() *a64 { return &a64{labels: map[string]int{}} }

func (a *a64) inst(w uint32) *a64 {
	a.code = binary.LittleEndian.AppendUint32(a.code, w)
	return a
}

func (a *a64) fail(format string, args ...any) *a64 {
	if a.err == nil {
		a.err = fmt.Errorf("inject: arm64: "+format, args...)
	}
	return a.inst(0) // keep offsets right; bytes reports the error
}

// label names the current offset.
func (a *a64) label(name string) *a64 {
	a.labels[name] = len(a.code)
	return a
}

// quad appends a 64-bit literal, aligned to 8 bytes with nops.
func (a *a64) quad(v uint64) *a64 {
	a.code = binary.LittleEndian.AppendUint64(a.code, v)
	return a
}

// align8 pads with nops to an 8-byte boundary (for literals).
func (a *a64) align8() *a64 {
	for len(a.code)%8 != 0 {
		a.nop()
	}
	return a
}

// raw appends bytes (the stubs, after the code).
func (a *a64) raw(b []byte) *a64 {
	a.code = append(a.code, b...)
	return a
}

func (a *a64) nop() *a64 { return a.inst(0xd503201f) }

// btiJC is a landing pad for any indirect branch: a page of libc mapped with
// PROT_BTI faults on a branch to anything else. A nop on CPUs without BTI.
func (a *a64) btiJC() *a64 { return a.inst(0xd50324df) }

// svc emits `svc #0`: the system call numbered in x8.
func (a *a64) svc() *a64 { return a.inst(0xd4000001) }

// addImm emits `add rd, rn, #imm` (sp allowed in both), as two instructions
// when imm needs more than 12 bits.
func (a *a64) addImm(rd, rn xreg, imm uint32) *a64 { return a.addSub(0x91000000, rd, rn, imm) }

// subImm emits `sub rd, rn, #imm`, likewise.
func (a *a64) subImm(rd, rn xreg, imm uint32) *a64 { return a.addSub(0xd1000000, rd, rn, imm) }

func (a *a64) addSub(op uint32, rd, rn xreg, imm uint32) *a64 {
	if imm >= 1<<24 {
		return a.fail("immediate %#x does not fit in 24 bits", imm)
	}
	if hi := imm >> 12; hi != 0 {
		a.inst(op | 1<<22 | hi<<10 | uint32(rn)<<5 | uint32(rd))
		rn = rd
		if imm&0xfff == 0 {
			return a
		}
	}
	return a.inst(op | (imm&0xfff)<<10 | uint32(rn)<<5 | uint32(rd))
}

// mov emits `mov rd, rn` between general registers (not sp).
func (a *a64) mov(rd, rn xreg) *a64 {
	return a.inst(0xaa000000 | uint32(rn)<<16 | uint32(xzr)<<5 | uint32(rd))
}

// movW emits `mov wd, wn`.
func (a *a64) movW(rd, rn xreg) *a64 {
	return a.inst(0x2a000000 | uint32(rn)<<16 | uint32(xzr)<<5 | uint32(rd))
}

// movz emits `mov xd, #imm` for a 16-bit imm.
func (a *a64) movz(rd xreg, imm uint32) *a64 {
	if imm >= 1<<16 {
		return a.fail("movz immediate %#x does not fit in 16 bits", imm)
	}
	return a.inst(0xd2800000 | imm<<5 | uint32(rd))
}

// movMinus1 emits `mov xd, #-1` (movn xd, #0).
func (a *a64) movMinus1(rd xreg) *a64 { return a.inst(0x92800000 | uint32(rd)) }

// alignDown emits `and rd, rn, #-(1<<bits)`: rn rounded down to a multiple
// of 1<<bits, as a logical immediate (a run of 64-bits ones rotated right
// by 64-bits).
func (a *a64) alignDown(rd, rn xreg, bits uint32) *a64 {
	if bits == 0 || bits >= 64 {
		return a.fail("alignment of %d bits", bits)
	}
	ones := 64 - bits
	return a.inst(0x92000000 | 1<<22 | (64-bits)%64<<16 | (ones-1)<<10 | uint32(rn)<<5 | uint32(rd))
}

// Loads and stores with an unsigned, scaled 12-bit offset.

func (a *a64) ldrX(rt, rn xreg, off uint32) *a64 { return a.ldst(0xf9400000, 8, rt, rn, off) }
func (a *a64) ldrW(rt, rn xreg, off uint32) *a64 { return a.ldst(0xb9400000, 4, rt, rn, off) }
func (a *a64) ldrB(rt, rn xreg, off uint32) *a64 { return a.ldst(0x39400000, 1, rt, rn, off) }
func (a *a64) strX(rt, rn xreg, off uint32) *a64 { return a.ldst(0xf9000000, 8, rt, rn, off) }
func (a *a64) strW(rt, rn xreg, off uint32) *a64 { return a.ldst(0xb9000000, 4, rt, rn, off) }
func (a *a64) strB(rt, rn xreg, off uint32) *a64 { return a.ldst(0x39000000, 1, rt, rn, off) }

func (a *a64) ldst(op, size uint32, rt, rn xreg, off uint32) *a64 {
	if off%size != 0 || off/size >= 1<<12 {
		return a.fail("offset %d is not a multiple of %d below %d", off, size, size<<12)
	}
	return a.inst(op | off/size<<10 | uint32(rn)<<5 | uint32(rt))
}

// ldrBPost and strBPost emit `ldrb wt, [xn], #1` and `strb wt, [xn], #1`.
func (a *a64) ldrBPost(rt, rn xreg) *a64 {
	return a.inst(0x38400400 | 1<<12 | uint32(rn)<<5 | uint32(rt))
}
func (a *a64) strBPost(rt, rn xreg) *a64 {
	return a.inst(0x38000400 | 1<<12 | uint32(rn)<<5 | uint32(rt))
}

// stpQ emits `stp qt, qt2, [xn, #off]` (128-bit vector registers).
func (a *a64) stpQ(t, t2 uint32, rn xreg, off uint32) *a64 {
	if off%16 != 0 || off/16 >= 64 || t >= 32 || t2 >= 32 {
		return a.fail("stp q%d, q%d, [%d]: offset or register out of range", t, t2, off)
	}
	return a.inst(0xad000000 | off/16<<15 | t2<<10 | uint32(rn)<<5 | t)
}

// pushFrame and popFrame emit `stp x29, x30, [sp, #-16]!` and
// `ldp x29, x30, [sp], #16`: a C function's frame record.
func (a *a64) pushFrame() *a64 {
	return a.inst(0xa9800000 | 0x7e<<15 | uint32(x30)<<10 | uint32(sp)<<5 | uint32(x29))
}
func (a *a64) popFrame() *a64 {
	return a.inst(0xa8c00000 | 2<<15 | uint32(x30)<<10 | uint32(sp)<<5 | uint32(x29))
}

// The FP status and control registers, as `mrs` names them.
const (
	sysFPCR uint32 = 0xd53b4400 &^ 0xd5300000 // op0=3 op1=3 CRn=4 CRm=4 op2=0
	sysFPSR uint32 = 0xd53b4420 &^ 0xd5300000 // op2=1
)

// mrs emits `mrs xt, sysreg`.
func (a *a64) mrs(rt xreg, sysreg uint32) *a64 { return a.inst(0xd5300000 | sysreg | uint32(rt)) }

// subsW emits `subs wd, wn, #imm` (12-bit imm).
func (a *a64) subsW(rd, rn xreg, imm uint32) *a64 {
	if imm >= 1<<12 {
		return a.fail("subs immediate %d does not fit in 12 bits", imm)
	}
	return a.inst(0x71000000 | imm<<10 | uint32(rn)<<5 | uint32(rd))
}

// cmnX emits `cmn xn, #imm` (12-bit imm).
func (a *a64) cmnX(rn xreg, imm uint32) *a64 {
	if imm >= 1<<12 {
		return a.fail("cmn immediate %d does not fit in 12 bits", imm)
	}
	return a.inst(0xb1000000 | imm<<10 | uint32(rn)<<5 | uint32(xzr))
}

// br and blr branch (and link) to a register.
func (a *a64) br(rn xreg) *a64  { return a.inst(0xd61f0000 | uint32(rn)<<5) }
func (a *a64) blr(rn xreg) *a64 { return a.inst(0xd63f0000 | uint32(rn)<<5) }

// b, bCond, cbz, cbnz (32-bit registers), adr and ldrLit (64-bit literal)
// refer to labels.
func (a *a64) b(label string) *a64 { return a.ref(0x14000000, brImm26, label) }
func (a *a64) bCond(c cond, label string) *a64 {
	return a.ref(0x54000000|uint32(c), brImm19, label)
}
func (a *a64) cbzW(rt xreg, label string) *a64  { return a.ref(0x34000000|uint32(rt), brImm19, label) }
func (a *a64) cbnzW(rt xreg, label string) *a64 { return a.ref(0x35000000|uint32(rt), brImm19, label) }
func (a *a64) cbnzX(rt xreg, label string) *a64 { return a.ref(0xb5000000|uint32(rt), brImm19, label) }
func (a *a64) adr(rd xreg, label string) *a64   { return a.ref(0x10000000|uint32(rd), brAdr, label) }
func (a *a64) ldrLit(rt xreg, label string) *a64 {
	return a.ref(0x58000000|uint32(rt), brImm19, label)
}

func (a *a64) ref(w uint32, kind branchKind, label string) *a64 {
	a.fixups = append(a.fixups, a64Fixup{at: len(a.code), kind: kind, label: label})
	return a.inst(w)
}

// offset returns a label's offset; the label must exist.
func (a *a64) offset(label string) int {
	off, ok := a.labels[label]
	if !ok {
		panic("inject: undefined label " + label)
	}
	return off
}

// bytes resolves the label references and returns the code.
func (a *a64) bytes() ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	le := binary.LittleEndian
	for _, f := range a.fixups {
		rel := a.offset(f.label) - f.at
		w := le.Uint32(a.code[f.at:])
		switch {
		case f.kind == brAdr && rel >= -1<<20 && rel < 1<<20:
			w |= uint32(rel&3)<<29 | uint32(rel>>2&0x7ffff)<<5
		case rel%4 != 0:
			return nil, fmt.Errorf("inject: arm64: %s is not word-aligned (%d bytes away)", f.label, rel)
		case f.kind == brImm19 && rel >= -1<<20 && rel < 1<<20:
			w |= uint32(rel/4&0x7ffff) << 5
		case f.kind == brImm26 && rel >= -1<<27 && rel < 1<<27:
			w |= uint32(rel / 4 & 0x3ffffff)
		default:
			return nil, fmt.Errorf("inject: arm64: %s is out of range (%d bytes away)", f.label, rel)
		}
		le.PutUint32(a.code[f.at:], w)
	}
	return a.code, nil
}
