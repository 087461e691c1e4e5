package inject

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The trampoline (AArch64) gives the same guarantees as the x86-64 one
// (trampoline_amd64.go has the stages; they are the same here): gdb only
// reads registers, writes memory and moves the main thread's pc; the thread
// then maps a buffer, runs or queues the stub, and resumes exactly where it
// was; killing gdb after the pc write changes nothing.
//
// What differs is how the thread gets back. AArch64 has no way to load the
// pc from memory without a register to hold the address, and every register
// may be live in the interrupted code, so stage 3 does not restore registers
// itself: it asks the kernel, with rt_sigreturn, to load a signal frame that
// the tracer and stage 1 filled in — the general registers, sp, pc and PSTATE
// (NZCV) as gdb read them, the FP/SIMD registers, FPSR and FPCR as stage 1
// saved them before anything else, and the signal mask and alternate signal
// stack as stage 1 read them. The kernel restores all of it at once, so
// every register is restored, not only those the trampoline touches (it may
// therefore use any general register and the flags freely).
//
// Interrupted system calls need no work: on arm64 the kernel prepares a
// system call's restart before the ptrace stop ("so that a debugger will
// see the already changed PC", arch/arm64/kernel/signal.c), rewinding pc to
// the svc instruction and putting back the original x0 (orig_x0, which gdb
// does not show and need not). Returning to the pc gdb shows re-issues the
// call with its original arguments; x8 still holds its number. The one
// difference from the kernel's own restart is for -ERESTART_RESTARTBLOCK
// (a relative sleep): the kernel would resume the remaining time through
// restart_syscall, the trampoline re-issues the whole call, as any tracer
// that moves the pc does.
//
// SVE: a system call discards the SVE state beyond the FP/SIMD registers
// (the upper bits of the Z registers, P0-P15, FFR), as the ABI allows at a
// system call. Stage 1 makes system calls, so on a CPU with SVE the
// trampoline is used only when the main thread is stopped at a system call
// already (where that state is gone anyway); elsewhere the attach falls
// back to gdb's inferior calls, which save and restore the SVE state.
// (Saving it in stage 1, before the first system call, would take some 200
// bytes more than the 20 that bookworm's __libc_start_main has left; gdb
// could instead read the Z and P registers into an SVE record of the frame.)
//
// BTI: libc's pages may be guarded (PROT_BTI); stages 1 and 3 begin with a
// landing pad that accepts any branch, and the buffer is mapped unguarded.
//
// Caches: stage 2 is copied with ordinary stores, then made executable
// with mprotect; the kernel synchronises the instruction cache when it
// maps a user page executable, and the return from the system call is a
// context synchronisation event.

// Layout of the data block, which the tracer writes below the main thread's
// stack pointer (AArch64 Linux has no red zone) after room for a signal
// frame. x19 holds its address from stage 1 on; the C functions stage 2
// calls preserve it.
const (
	dFuncs  = 0  // the C-API functions' addresses, in slot order (capi.go)
	dStage3 = 48 // address of stage 3
	dBuf    = 56 // the buffer stage 1 maps
	dSize   = 64 // (uint32) size of the buffer mapping
	dLen    = 68 // (uint32) bytes stage 1 copies into it
	dStatus = 72 // (byte) how far the trampoline got; see Status
	dUnmap  = 73 // (byte) non-zero: stage 3 unmaps the buffer
	dFrame  = 128
	dBlock  = 4864 // the bytes stage 1 copies: stage 2 and the stubs

	// maxBlock bounds stage 2 plus the stubs.
	maxBlock = 16384
	// signalRoom is left below the stack pointer for a signal frame
	// delivered before stage 1 has moved it (an SVE or SME frame is
	// several KiB).
	signalRoom = 32768
	// dataGap is how far below the original stack pointer stage 1 puts the
	// data block: (sp - dataGap) rounded down to 64 bytes. A constant, so
	// that stage 1 needs no per-attach value.
	dataGap = signalRoom + dBlock + maxBlock
)

// The signal frame rt_sigreturn loads (Linux arm64 uapi: struct
// rt_sigframe is a 128-byte siginfo then struct ucontext, whose
// uc_mcontext is struct sigcontext), as offsets in the data block.
const (
	frameSize      = 128 + 176 + 288 + 4096
	fUCStack       = dFrame + 128 + 16      // stack_t uc_stack
	fUCSigmask     = dFrame + 128 + 40      // the kernel's 64-bit sigset_t
	fRegs          = dFrame + 128 + 176 + 8 // regs[31], then sp, pc, pstate
	fSP            = fRegs + 31*8
	fPC            = fSP + 8
	fPState        = fPC + 8
	fReserved      = dFrame + 128 + 176 + 288 // __reserved[4096], 16-aligned: records
	fFPSIMD        = fReserved                // struct fpsimd_context
	fFPSR          = fFPSIMD + 8
	fFPCR          = fFPSIMD + 12
	fVRegs         = fFPSIMD + 16
	fpsimdMagic    = 0x46508001
	fpsimdSize     = 16 + 32*16
	fEnd           = fFPSIMD + fpsimdSize // the terminating (0, 0) record, left zero
	sysRtSigreturn = unix.SYS_RT_SIGRETURN
)

// The frame's records end inside the frame, and the frame before the
// copied block (a negative difference does not compile).
const _ = uint(dFrame + frameSize - fEnd - 8)
const _ = uint(dBlock - dFrame - frameSize)

// regOrder are the registers the signal frame holds as gdb reads them: x0
// to x30, then sp, pc and PSTATE (gdb's cpsr).
var regOrder = [34]string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
	"x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp", "pc", "cpsr"}

// savedRegisters are the registers read before an injection.
var savedRegisters = regOrder[:]

const (
	stackPointer = "sp"
	elfMachine   = elf.EM_AARCH64
	// entryOffset is where stage 1 starts: its landing pad.
	entryOffset = 0
)

// trampolineCPU: every AArch64 CPU runs the trampoline (FP/SIMD is part of
// the architecture that Linux requires).
func trampolineCPU() error { return nil }

// errSVELive sends an attach to the inferior calls; see the file comment.
var errSVELive = unfitError{errors.New("this CPU has SVE and the main thread is not stopped at a system call, so its SVE state may be live and the trampoline's system calls would discard it")}

// checkVectorState refuses the trampoline where the main thread's SVE state
// may be live: gdb shows the vector granule register vg only on SVE CPUs.
func (t *target) checkVectorState(ctx context.Context, regs map[string]uint64) error {
	if !t.regNames["vg"] {
		return nil
	}
	pc := regs["pc"]
	if isSVC(t.o.PID, pc) || isSVC(t.o.PID, pc-4) {
		return nil
	}
	return errSVELive
}

const svcInstruction = 0xd4000001

func isSVC(pid int, addr uint64) bool {
	var w [4]byte
	local := []unix.Iovec{{Base: &w[0], Len: 4}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: 4}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	return err == nil && n == 4 && binary.LittleEndian.Uint32(w[:]) == svcInstruction
}

// resumePoint is the pc gdb shows: the kernel has already rewound a system
// call it will restart (see above).
func resumePoint(regs map[string]uint64) uint64 { return regs["pc"] }

// fixedCode returns stages 1 and 3, and the offset of stage 3 in them.
func fixedCode() ([]byte, int, error) {
	a := newA64()
	// stage 1
	a.btiJC()
	a.addImm(x9, sp, 0)
	a.subImm(x9, x9, dataGap)
	a.alignDown(x9, x9, 6)
	a.addImm(sp, x9, 0)
	a.mov(x19, x9)
	saveFPSIMD(a)
	setStatus(a, StatusStarted)
	a.movz(x0, 0).movz(x1, 0) // rt_sigprocmask(SIG_BLOCK, NULL, &uc_sigmask, 8)
	a.addImm(x2, x19, fUCSigmask)
	a.movz(x3, 8)
	a.movz(x8, unix.SYS_RT_SIGPROCMASK).svc()
	a.movz(x0, 0) // sigaltstack(NULL, &uc_stack)
	a.addImm(x1, x19, fUCStack)
	a.movz(x8, unix.SYS_SIGALTSTACK).svc()
	a.movz(x0, 0) // mmap(NULL, size, RW, private|anonymous, -1, 0)
	a.ldrW(x1, x19, dSize)
	a.movz(x2, unix.PROT_READ|unix.PROT_WRITE)
	a.movz(x3, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	a.movMinus1(x4)
	a.movz(x5, 0)
	a.movz(x8, unix.SYS_MMAP).svc()
	a.cmnX(x0, 4095) // an errno?
	a.bCond(condHS, "mmapFailed")
	a.strX(x0, x19, dBuf)
	a.mov(x3, x0) // copy dLen bytes from the data block
	a.addImm(x1, x19, dBlock)
	a.ldrW(x2, x19, dLen)
	a.label("copy")
	a.ldrBPost(x4, x1).strBPost(x4, x3)
	a.subsW(x2, x2, 1)
	a.bCond(condNE, "copy")
	a.ldrW(x1, x19, dSize) // mprotect(buf, size, RX)
	a.movz(x2, unix.PROT_READ|unix.PROT_EXEC)
	a.movz(x8, unix.SYS_MPROTECT).svc()
	a.cbnzX(x0, "protectFailed")
	a.ldrX(x16, x19, dBuf)
	a.br(x16) // stage 2
	a.label("protectFailed")
	setByte(a, dUnmap, 1)
	a.label("mmapFailed")
	setStatus(a, StatusNoMemory)
	// stage 3
	a.label("stage3")
	a.btiJC()
	a.ldrB(x9, x19, dUnmap)
	a.cbzW(x9, "restore")
	a.ldrX(x0, x19, dBuf)
	a.ldrW(x1, x19, dSize)
	a.movz(x8, unix.SYS_MUNMAP).svc()
	a.label("restore")
	a.addImm(x9, x19, dFrame)
	a.addImm(sp, x9, 0)
	a.movz(x8, sysRtSigreturn).svc() // every register, sp, pc, PSTATE, FP/SIMD
	code, err := a.bytes()
	if err != nil {
		return nil, 0, err
	}
	return code, a.offset("stage3"), nil
}

// saveFPSIMD stores q0-q31, FPSR and FPCR into the signal frame's FP/SIMD
// record, before any instruction or system call can change them.
func saveFPSIMD(a *a64) {
	a.addImm(x10, x19, fVRegs)
	for q := uint32(0); q < 32; q += 2 {
		a.stpQ(q, q+1, x10, q*16)
	}
	a.mrs(x11, sysFPSR).strW(x11, x19, fFPSR)
	a.mrs(x11, sysFPCR).strW(x11, x19, fFPCR)
}

func setByte(a *a64, off, v uint32) {
	a.movz(x9, v).strB(x9, x19, off)
}

func setStatus(a *a64, s Status) { setByte(a, dStatus, uint32(s)) }

// stage2Prologue is how every stage 2 begins (asking Py_IsInitialized), by
// which a later attach recognises an earlier one's buffer.
func stage2Prologue() []byte {
	a := newA64()
	callSlot(a, slotIsInitialized)
	return a.code
}

// callSlot calls a C-API function through the data block. x16 is the
// intra-procedure-call register, which every landing pad accepts.
func callSlot(a *a64, s capiSlot) {
	a.ldrX(x16, x19, uint32(slotOffset(s)))
	a.blr(x16)
}

// stage2 returns stage 2, pendingFn and the stubs, as one position-
// independent block for the buffer.
func stage2(mode stageMode, runAddr, munmapAddr uint64, stub stubs, size uint32) ([]byte, error) {
	a := newA64()
	a.label("start")
	a.raw(stage2Prologue())
	a.cbzW(x0, "notReady")
	switch mode {
	case modePending:
		a.b("pending")
	case modeByGIL, modeDirect:
		callSlot(a, slotGILCheck)
		if mode == modeByGIL {
			a.cbnzW(x0, "pending")
		} else {
			a.cbnzW(x0, "gilHeld")
		}
	}
	callSlot(a, slotGILEnsure)
	a.movW(x20, x0) // the GIL state
	a.adr(x0, "stub")
	callSlot(a, slotRunString)
	a.movW(x0, x20)
	callSlot(a, slotGILRelease)
	finish(a, StatusRan, true)
	a.label("pending")
	a.adr(x0, "pendingFn")
	a.adr(x1, "queuedStub")
	callSlot(a, slotAddPendingCall)
	a.cbnzW(x0, "queueFull")
	finish(a, StatusQueued, false)
	a.label("queueFull")
	finish(a, StatusQueueFull, true)
	a.label("notReady")
	finish(a, StatusNotReady, true)
	a.label("gilHeld")
	finish(a, StatusGILHeld, true)
	a.label("done")
	a.ldrX(x16, x19, dStage3)
	a.br(x16)

	// int pendingFn(void *stub): run the stub, then free this buffer.
	a.label("pendingFn")
	a.pushFrame()
	a.addImm(x29, sp, 0)
	a.ldrLit(x16, "runPtr")
	a.blr(x16) // PyRun_SimpleString(stub)
	a.popFrame()
	a.adr(x0, "start")
	a.movz(x1, size)
	a.ldrLit(x16, "munmapPtr")
	a.br(x16) // munmap returns 0 to CPython
	a.align8()
	a.label("runPtr").quad(runAddr)
	a.label("munmapPtr").quad(munmapAddr)
	a.label("stub").raw(stub.direct)
	a.label("queuedStub").raw(stub.queued)
	return a.bytes()
}

// finish records status, whether stage 3 must unmap the buffer, and goes
// to the common exit.
func finish(a *a64, s Status, unmap bool) {
	if unmap {
		setByte(a, dUnmap, 1)
	}
	setStatus(a, s)
	a.b("done")
}

// dataBlock builds the data block: the C-API pointers, the signal frame
// with the registers gdb read, and the bytes stage 1 copies. Stage 1 fills
// in the frame's FP/SIMD registers, signal mask and signal stack.
func dataBlock(funcs [numSlots]uint64, stage3, resume, origSP uint64, regs map[string]uint64, block []byte, size uint32) ([]byte, error) {
	if len(block) > maxBlock {
		return nil, fmt.Errorf("stage 2 and the stubs take %d bytes, more than %d", len(block), maxBlock)
	}
	d := make([]byte, dBlock+len(block))
	le := binary.LittleEndian
	for slot, f := range funcs {
		le.PutUint64(d[slotOffset(capiSlot(slot)):], f)
	}
	le.PutUint64(d[dStage3:], stage3)
	le.PutUint32(d[dSize:], size)
	le.PutUint32(d[dLen:], uint32(len(block)))
	for i, name := range regOrder {
		v, ok := regs[name]
		if !ok {
			return nil, fmt.Errorf("register %s was not read", name)
		}
		switch name {
		case "sp":
			v = origSP
		case "pc":
			v = resume
		}
		le.PutUint64(d[fRegs+8*i:], v)
	}
	le.PutUint32(d[fFPSIMD:], fpsimdMagic)
	le.PutUint32(d[fFPSIMD+4:], fpsimdSize)
	copy(d[dBlock:], block)
	return d, nil
}

// writeData writes the data block; the parts stage 1 fills are zero.
func writeData(pid int, addr uint64, d []byte) error {
	mem, err := openMem(pid)
	if err != nil {
		return err
	}
	defer mem.Close()
	return writeAt(mem, addr, d)
}

// dataAddr is where stage 1 puts the data block for a thread whose stack
// pointer is sp; the tracer writes the block there.
func dataAddr(sp uint64) uint64 { return (sp - dataGap) &^ 63 }

// slotOffset is where the data block holds a C-API function's address.
func slotOffset(s capiSlot) byte { return byte(dFuncs + 8*int(s)) }
