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
