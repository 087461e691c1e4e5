package inject

import (
	"encoding/binary"
	"fmt"
)

// asm assembles a short x86-64 sequence: bytes, labels, and relative
// displacements to labels that are resolved once everything is emitted.
// Every displacement pyattach emits is the last field of its instruction,
// so it is relative to the end of the field.
type asm struct {
	code   []byte
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int    // offset of the displacement field
	size  int    // 1 or 4 bytes
	label string // where it points
}

func newAsm() *asm { return &asm{labels: map[string]int{}} }

// emit appends raw bytes.
func (a *asm) emit(b ...byte) *asm {
	a.code = append(a.code, b...)
	return a
}

// imm32 appends a little-endian 32-bit immediate or displacement.
func (a *asm) imm32(v int32) *asm {
	a.code = binary.LittleEndian.AppendUint32(a.code, uint32(v))
	return a
}

// imm64 appends a little-endian 64-bit value.
func (a *asm) imm64(v uint64) *asm {
	a.code = binary.LittleEndian.AppendUint64(a.code, v)
	return a
}

// label names the current offset.
func (a *asm) label(name string) *asm {
	a.labels[name] = len(a.code)
	return a
}

// rel8 and rel32 append a displacement to label, filled in by bytes.
func (a *asm) rel8(label string) *asm  { return a.rel(label, 1) }
func (a *asm) rel32(label string) *asm { return a.rel(label, 4) }

func (a *asm) rel(label string, size int) *asm {
	a.fixups = append(a.fixups, fixup{at: len(a.code), size: size, label: label})
	a.code = append(a.code, make([]byte, size)...)
	return a
}

// offset returns a label's offset; the label must exist.
func (a *asm) offset(label string) int {
	off, ok := a.labels[label]
	if !ok {
		panic("inject: undefined label " + label)
	}
	return off
}

// bytes resolves the displacements and returns the code.
func (a *asm) bytes() ([]byte, error) {
	for _, f := range a.fixups {
		rel := a.offset(f.label) - (f.at + f.size)
		switch {
		case f.size == 1 && rel >= -128 && rel <= 127:
			a.code[f.at] = byte(int8(rel))
		case f.size == 4:
			binary.LittleEndian.PutUint32(a.code[f.at:], uint32(int32(rel)))
		default:
			return nil, fmt.Errorf("inject: jump to %s (%d bytes) does not fit in rel8", f.label, rel)
		}
	}
	return a.code, nil
}

// The instruction forms the trampoline repeats, named. Operands in the
// data block are addressed from r15 with 8-bit displacements.

// movEAX emits `mov eax, v`: a system call's number, or XSAVE's mask.
func (a *asm) movEAX(v int32) *asm { return a.emit(0xb8).imm32(v) }

// syscall emits `syscall`.
func (a *asm) syscall() *asm { return a.emit(0x0f, 0x05) }

// setByte emits `mov byte [r15+off], v`.
func (a *asm) setByte(off, v byte) *asm { return a.emit(0x41, 0xc6, 0x47, off, v) }

// callSlot emits `call [r15+slot]`: a C-API function through the data block.
func (a *asm) callSlot(s capiSlot) *asm {
	if off := slotOffset(s); off != 0 {
		return a.emit(0x41, 0xff, 0x57, off)
	}
	return a.emit(0x41, 0xff, 0x17) // no displacement byte for [r15+0]
}

// xsave emits `xsave64 [r15+off]` of the state components in mask (edx:eax).
func (a *asm) xsave(mask, off int32) *asm {
	a.movEAX(mask).emit(0x31, 0xd2) // xor edx, edx
	return a.emit(0x49, 0x0f, 0xae, 0xa7).imm32(off)
}

// xrstor emits `xrstor64 [r15+off]` of the state components in mask.
func (a *asm) xrstor(mask, off int32) *asm {
	a.movEAX(mask).emit(0x31, 0xd2) // xor edx, edx
	return a.emit(0x49, 0x0f, 0xae, 0xaf).imm32(off)
}
