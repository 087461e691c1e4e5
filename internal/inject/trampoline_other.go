//go:build !amd64

package inject

import (
	"context"
	"debug/elf"
	"fmt"
	"runtime"
)

// The trampoline exists for x86-64 only (trampoline_amd64.go); elsewhere
// every attach takes the inferior-call fallback.

var savedRegisters []string // none: a failed call is not repaired

const elfMachine = elf.EM_NONE

var errNoTrampoline = fmt.Errorf("pyattach has no trampoline for %s", runtime.GOARCH)

func trampolineCPU() error { return errNoTrampoline }

func fixedCode() ([]byte, int, error) { return nil, 0, errNoTrampoline }

func stage2Prologue() []byte { return nil }

func (t *target) installTrampoline(context.Context, *site, []frame) (*installed, error) {
	return nil, errNoTrampoline
}
