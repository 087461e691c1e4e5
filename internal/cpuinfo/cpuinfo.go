// Package cpuinfo reads what the kernel says about the machine's CPU in
// /proc/cpuinfo, for the one part of an attach that depends on it: gdb's
// inferior calls, the fallback behind pyattach's trampoline (see package
// inject), fail on CPUs whose extended register state gdb cannot write
// back. The attach itself decides by probing gdb (gdbmi.ProbeXState); this
// package lets `pyattach doctor`, error messages and tests say why, and
// which kind of machine they ran on.
package cpuinfo

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// CPU is the first processor's description.
type CPU struct {
	Model string          // "model name", e.g. "AMD EPYC 7B13"
	Flags map[string]bool // the "flags" line: features the CPU has and the kernel enabled
}

// Parse reads the first processor's block of /proc/cpuinfo text. Lines
// starting with "#" are comments (recorded files carry one).
func Parse(text []byte) CPU {
	cpu := CPU{Flags: map[string]bool{}}
	lines := bufio.NewScanner(bytes.NewReader(text))
	lines.Buffer(make([]byte, 64*1024), 1<<20) // the flags line is long
	for lines.Scan() {
		line := lines.Text()
		if strings.TrimSpace(line) == "" && cpu.Model != "" {
			break // the end of the first processor's block
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch strings.TrimSpace(key) {
		case "model name":
			cpu.Model = strings.TrimSpace(value)
		case "flags":
			for _, f := range strings.Fields(value) {
				cpu.Flags[f] = true
			}
		}
	}
	return cpu
}

// Local returns this machine's CPU; its zero fields when /proc/cpuinfo
// cannot be read (then nothing is known, and nothing is predicted).
func Local() CPU {
	text, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return CPU{Flags: map[string]bool{}}
	}
	return Parse(text)
}

// HasAMX reports whether the CPU has Intel's Advanced Matrix Extensions
// enabled. Their tile data makes the XSAVE area about 11 KB, where gdb 13
// (Debian 12's) and older keep a buffer of under 3 KB: the kernel then
// refuses every write of the extended state, and every inferior call
// breaks the thread it ran on.
func (c CPU) HasAMX() bool { return c.Flags["amx_tile"] }

// XStateNote says, as a clause, why gdb may fail to write this CPU's
// extended state, or "" when nothing about the CPU suggests it will.
func (c CPU) XStateNote() string {
	if !c.HasAMX() {
		return ""
	}
	return "this CPU (" + c.Model + ") has Intel AMX, whose extended register state is larger than gdb 13 and older can write back"
}
