package inject

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyattach/pyattach/gdbmi"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/procfs"
)

// Status is how far a trampoline got, as it records in the data block.
type Status byte

// The statuses a trampoline records.
const (
	StatusStarted     Status = 1 // stage 1 began
	StatusRan         Status = 2 // the stub ran on the main thread
	StatusQueued      Status = 3 // the stub was queued as a pending call
	StatusNotReady    Status = 4 // the interpreter is not initialised: nothing ran
	StatusGILHeld     Status = 5 // a direct call was requested but the GIL was held: nothing ran
	StatusNoMemory    Status = 6 // mmap or mprotect failed: nothing ran
	StatusQueueFull   Status = 7 // CPython's pending-call queue was full: nothing ran
	statusLastDefined        = StatusQueueFull
)

// stageMode tells stage 2 how to choose.
type stageMode int

const (
	modeByGIL   stageMode = iota // ask PyGILState_Check at run time
	modePending                  // always queue (the tracer saw a hazard, or the user asked)
	modeDirect                   // run directly, but refuse if the GIL is held
)

// stubs are the stub rendered to run at once and to run queued.
type stubs struct {
	direct, queued []byte
}

// site is where and with what a trampoline can be installed in a target.
type site struct {
	funcs  [numSlots]uint64 // CAPIFunctions, resolved in libpython (or the executable)
	region uint64           // __libc_start_main: room for stages 1 and 3
	munmap uint64
	fixed  []byte // stages 1 and 3
	stage3 uint64
	maps   []procfs.Mapping
}

var libcName = regexp.MustCompile(`^libc(\.so|-[0-9])`)

// findSite checks that a trampoline can work in the target, from its ELF
// files and memory map alone. A nil site with a nil error never happens:
// an error says why the inferior-call path must be used instead.
func findSite(p *procfs.Process, py *procfs.Python) (*site, error) {
	if err := trampolineCPU(); err != nil {
		return nil, err
	}
	if err := checkMachine(py.Library); err != nil {
		return nil, err
	}
	capi, err := procfs.LookupSymbols(py.Library, py.LibraryBase, CAPIFunctions[:]...)
	if err != nil {
		return nil, err
	}
	s := &site{}
	for i, name := range CAPIFunctions {
		sym, ok := capi[name]
		if !ok {
			return nil, fmt.Errorf("%s does not export %s", py.Library, name)
		}
		s.funcs[i] = sym.Addr
	}
	libc, err := p.FindLibrary(libcName)
	if err != nil {
		return nil, err
	}
	syms, err := procfs.LookupSymbols(libc.File, libc.Base, "__libc_start_main", "munmap")
	if err != nil {
		return nil, err
	}
	start, munmap := syms["__libc_start_main"], syms["munmap"]
	if start.Addr == 0 || munmap.Addr == 0 {
		return nil, fmt.Errorf("%s lacks __libc_start_main or munmap", libc.Path)
	}
	fixed, stage3, err := fixedCode()
	if err != nil {
		return nil, err
	}
	if start.Size < uint64(len(fixed)) {
		return nil, fmt.Errorf("__libc_start_main in %s has %d bytes, the trampoline needs %d", libc.Path, start.Size, len(fixed))
	}
	if s.maps, err = p.Maps(); err != nil {
		return nil, err
	}
	s.region, s.munmap, s.fixed, s.stage3 = start.Addr, munmap.Addr, fixed, start.Addr+uint64(stage3)
	return s, nil
}

// checkMachine refuses a 32-bit or foreign target: the trampoline is
// 64-bit code of pyattach's own architecture.
func checkMachine(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elfMachine {
		return fmt.Errorf("%s is not a 64-bit %s ELF file", path, runtime.GOARCH)
	}
	return nil
}

// stale reports whether the main thread, stopped in frames, is still
// running an earlier attach's trampoline: its instruction pointer is in
// stages 1 or 3, or one of its frames is in a buffer that starts with stage
// 2. (Outer frames in __libc_start_main are normal: the call that runs main
// never returns, but its return address stays on the stack.)
func (s *site) stale(pid int, frames []frame) bool {
	if len(frames) > 0 && frames[0].addr >= s.region && frames[0].addr < s.region+uint64(len(s.fixed)) {
		return true
	}
	for _, f := range frames {
		if m, ok := s.mappingOf(f.addr); ok && m.Path == "" && strings.Contains(m.Perms, "x") && startsWithStage2(pid, m.Start) {
			return true
		}
	}
	return false
}

// startsWithStage2 reports whether the target's memory at addr holds the
// first instructions every stage 2 begins with.
func startsWithStage2(pid int, addr uint64) bool {
	want := stage2Prologue()
	got := make([]byte, len(want))
	local := []unix.Iovec{{Base: &got[0], Len: uint64(len(got))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(got)}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	return err == nil && n == len(got) && bytes.Equal(got, want)
}

// mappingOf returns the mapping holding addr.
func (s *site) mappingOf(addr uint64) (procfs.Mapping, bool) {
	for _, m := range s.maps {
		if addr >= m.Start && addr < m.End {
			return m, true
		}
	}
	return procfs.Mapping{}, false
}

// installed is a trampoline in place, to be checked on after the detach.
type installed struct {
	status uint64 // address of the status byte
}

// unfitError is a reason, found once the main thread's registers are read,
// why this attach must take the inferior calls instead of the trampoline.
type unfitError struct{ error }

var errNoStackRoom = unfitError{errors.New("the main thread's stack has no room for the trampoline's data")}

// installTrampoline writes the trampoline and its data into the stopped
// target and points the main thread at it. Until that single register
// write nothing the target will execute has changed; after it the target
// needs nothing more from gdb. The architecture's file supplies the code,
// the data block and where the interrupted code resumes.
func (t *target) installTrampoline(ctx context.Context, s *site, frames []frame) (*installed, error) {
	mode, err := chooseMode(t.o.Strategy, frames, s.stale(t.o.PID, frames))
	if err != nil {
		return nil, err
	}
	regs, err := t.registers(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.checkVectorState(ctx, regs); err != nil {
		return nil, err
	}
	sp := regs[stackPointer]
	data := dataAddr(sp)
	if m, ok := s.mappingOf(sp); !ok || data < m.Start {
		return nil, errNoStackRoom
	}
	resume := resumePoint(regs)
	stub := stubs{direct: t.o.Program(nil, false), queued: t.o.Program(nil, true)}
	block, err := stage2(mode, s.funcs[slotRunString], s.munmap, stub, 0)
	if err != nil {
		return nil, err
	}
	size := uint32(pageAlign(uint64(len(block))))
	if block, err = stage2(mode, s.funcs[slotRunString], s.munmap, stub, size); err != nil {
		return nil, err
	}
	d, err := dataBlock(s.funcs, s.stage3, resume, sp, regs, block, size)
	if err != nil {
		return nil, err
	}
	if err := writeIfChanged(t.o.PID, s.region, s.fixed); err != nil {
		return nil, err
	}
	if err := writeData(t.o.PID, data, d); err != nil {
		return nil, err
	}
	t.o.Progress("handing the main thread to the bootstrap trampoline")
	if _, err := t.exec(ctx, "starting the trampoline", fmt.Sprintf("-data-evaluate-expression \"$pc = %#x\"", s.region+entryOffset)); err != nil {
		return nil, err
	}
	return &installed{status: data + dStatus}, nil
}

// writeIfChanged writes code unless it is already there, so that an
// earlier attach's trampoline still running through it sees no write.
func writeIfChanged(pid int, addr uint64, code []byte) error {
	mem, err := openMem(pid)
	if err != nil {
		return err
	}
	defer mem.Close()
	have := make([]byte, len(code))
	if _, err := mem.ReadAt(have, int64(addr)); err == nil && bytes.Equal(have, code) {
		return nil
	}
	return writeAt(mem, addr, code)
}

// openMem opens the target's memory. Writing through /proc/PID/mem takes
// microseconds where gdb's hexadecimal MI command takes milliseconds, while
// the target is stopped; like ptrace it may write read-only pages (the
// kernel gives the target a private copy), and it needs the same
// permission, which the attach has already proven.
func openMem(pid int) (*os.File, error) {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		return nil, attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("Cannot open the memory of process %d: %v.", pid, err),
			attacherr.ReportLog)
	}
	return f, nil
}

func writeAt(mem *os.File, addr uint64, b []byte) error {
	if _, err := mem.WriteAt(b, int64(addr)); err != nil {
		return attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("Writing the trampoline at %#x failed: %v.", addr, err),
			"The target was left as it was. "+attacherr.ReportLog)
	}
	return nil
}

// registers reads the general registers the trampoline saves and restores,
// of gdb's selected thread.
func (t *target) registers(ctx context.Context) (map[string]uint64, error) {
	names, err := t.exec(ctx, "listing registers", "-data-list-register-names")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, r := range savedRegisters {
		want[r] = true
	}
	numbers := map[string]string{}
	cmd := "-data-list-register-values x"
	t.regNames = map[string]bool{}
	for i, v := range names.Results.List("register-names") {
		if name, ok := v.(gdbmi.String); ok {
			t.regNames[string(name)] = true
		}
		if name, ok := v.(gdbmi.String); ok && want[string(name)] {
			numbers[strconv.Itoa(i)] = string(name)
			cmd += " " + strconv.Itoa(i)
		}
	}
	if len(numbers) != len(want) {
		return nil, attacherr.New(attacherr.GDBFailed, fmt.Sprintf("gdb does not show all the %s registers the trampoline needs (%s).", runtime.GOARCH, strings.Join(savedRegisters, ", ")),
			attacherr.ReportLog)
	}
	values, err := t.exec(ctx, "reading registers", cmd)
	if err != nil {
		return nil, err
	}
	regs := map[string]uint64{}
	for _, v := range values.Results.List("register-values") {
		rv, ok := v.(gdbmi.Tuple)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(rv.Str("value"), 0, 64)
		if name := numbers[rv.Str("number")]; name != "" && err == nil {
			regs[name] = n
		}
	}
	if len(regs) != len(want) {
		return nil, attacherr.New(attacherr.GDBFailed, "gdb did not give the values of all the registers the trampoline needs.",
			attacherr.ReportLog)
	}
	return regs, nil
}

// awaitStatus watches, after the detach, for the trampoline to record its
// outcome, and turns a failure into an error. It reads the target's memory
// directly (process_vm_readv): no ptrace stop. The status lives on the
// main thread's stack, which the program reuses once resumed, so only
// values the trampoline can write count, and a status never seen is not an
// error: the bootstrap's own report is what proves the attach.
func awaitStatus(o Options, in *installed, res *Result) error {
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		switch s := readStatus(o.PID, in.status); s {
		case StatusRan:
			res.Strategy = DirectCall
			return nil
		case StatusQueued:
			res.Strategy = PendingCall
			return nil
		case StatusNotReady:
			return errNotReady
		case StatusGILHeld:
			return attacherr.New(attacherr.UnsafeToInject,
				"The direct-call strategy was requested, but the target's main thread held the GIL, so nothing was run.",
				`Use the "auto" or "pending-call" strategy.`)
		case StatusNoMemory:
			return attacherr.New(attacherr.InjectionFailed, "The target could not map one page for the bootstrap (mmap or mprotect failed), so nothing was run.",
				"The target may be out of memory, or a security policy may forbid it to make memory executable; check its limits (ulimit -v) and its SELinux/PaX policy.")
		case StatusQueueFull:
			return errQueueFull
		}
		time.Sleep(time.Millisecond)
	}
	o.Log.Info("the trampoline's outcome was not seen; waiting for the bootstrap's report")
	return nil
}

func readStatus(pid int, addr uint64) Status {
	var b [1]byte
	local := []unix.Iovec{{Base: &b[0], Len: 1}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: 1}}
	if n, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || n != 1 {
		return 0
	}
	if s := Status(b[0]); s <= statusLastDefined {
		return s
	}
	return 0
}

var (
	errNotReady = attacherr.New(attacherr.InterpNotReady,
		"The Python interpreter in this process is starting up or shutting down, so no Python code can run in it.",
		"Wait until the program is running normally and attach again.")
	errQueueFull = attacherr.New(attacherr.InjectionFailed,
		"CPython's queue of pending calls in the target is full, so the bootstrap could not be queued.",
		"The program is flooded with signals or pending calls; attach again in a moment.")
)
