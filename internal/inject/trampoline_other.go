//go:build !amd64 && !arm64

package inject

import (
	"context"
	"debug/elf"
	"fmt"
	"runtime"
)

// The trampoline exists for x86-64 and AArch64 only (trampoline_amd64.go,
// trampoline_arm64.go); elsewhere every attach takes the inferior-call
// fallback, and findSite stops at trampolineCPU.

var savedRegisters []string // none: a failed call is not repaired

const (
	elfMachine   = elf.EM_NONE
	stackPointer = "sp"
	entryOffset  = 0
	dStatus      = 0
)

var errNoTrampoline = fmt.Errorf("pyattach has no trampoline for %s", runtime.GOARCH)

func trampolineCPU() error { return errNoTrampoline }

func fixedCode() ([]byte, int, error) { return nil, 0, errNoTrampoline }

func stage2Prologue() []byte { return nil }

func (t *target) checkVectorState(context.Context, map[string]uint64) error { return errNoTrampoline }

func resumePoint(map[string]uint64) uint64 { return 0 }

func dataAddr(uint64) uint64 { return 0 }

func stage2(stageMode, uint64, uint64, stubs, uint32) ([]byte, error) { return nil, errNoTrampoline }

func dataBlock([numSlots]uint64, uint64, uint64, uint64, map[string]uint64, []byte, uint32) ([]byte, error) {
	return nil, errNoTrampoline
}

func writeData(int, uint64, []byte) error { return errNoTrampoline }
