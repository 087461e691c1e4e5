package inject

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"
)

// The trampoline (x86-64) runs the stub without gdb's help: gdb writes it
// into the target and moves the main thread's instruction pointer to it,
// and the thread then does everything itself and resumes exactly where it
// was. This file has its machine code, the data block's layout and the
// installation; trampoline.go has what does not depend on the
// architecture (where it goes, recognising a stale one, its outcome).
//
// It has three stages. Stage 1 and stage 3 live in the dead code of
// __libc_start_main (it never runs again once main has been called, and
// writing to it through ptrace gives this process a private copy of the
// page); they are the same bytes for every attach and take every value from
// the data block, so rewriting them while an earlier attach's trampoline is
// still finishing changes nothing. Stage 2 and the stub live in a buffer
// that stage 1 maps, so stage 2 may carry per-attach constants.
//
//	stage 1  moves the stack pointer below the data block, maps the buffer
//	         (read-write), copies stage 2 and the stub into it, makes it
//	         read-execute, and jumps to stage 2
//	stage 2  saves the FPU/SSE/AVX state; if the interpreter is initialised,
//	         either runs the stub now (PyGILState_Ensure, PyRun_SimpleString,
//	         PyGILState_Release: the main thread does not hold the GIL) or
//	         queues it (Py_AddPendingCall: it does, or the tracer saw a
//	         hazard); restores the FPU state and jumps to stage 3
//	stage 3  unmaps the buffer unless a pending call still needs it, plants
//	         the resume address below the red zone, restores every general
//	         register and the flags, and returns to the interrupted code with
//	         `ret 128`, which also restores the stack pointer
//
// A queued stub runs later through pendingFn, which lives in the buffer: it
// calls PyRun_SimpleString and then tail-calls munmap on its own buffer, so
// munmap returns straight to CPython (with 0, "no error"). The buffer holds
// two renderings of the stub, one for each way it may run, because a queued
// stub behaves differently (see bootstrap.Config.Queued).

// Layout of the data block, which the tracer writes onto the main thread's
// stack, below the red zone and room for a signal frame. Offsets under 128
// are reached with 8-bit displacements from r15.
const (
	dFuncs    = 0  // the C-API functions' addresses, in slot order (capi.go)
	dStage3   = 48 // address of stage 3
	dBuf      = 56 // the buffer stage 1 maps
	dResume   = 64 // where the interrupted code resumes
	dRetFrame = 72 // original rsp - retFrameDepth: where stage 3 plants dResume
	dSize     = 80 // (uint32) size of the buffer mapping
	dLen      = 84 // (uint32) bytes stage 1 copies into it
	dStatus   = 88 // (byte) how far the trampoline got; see Status
	dUnmap    = 89 // (byte) non-zero: stage 3 unmaps the buffer
	dRegs     = 96 // saved registers, in regOrder (17 quadwords)
	dXsave    = 256
	xsaveSize = 4096
	dBlock    = dXsave + xsaveSize // the bytes stage 1 copies: stage 2 and the stubs

	// retFrameDepth is how far below the original stack pointer stage 3
	// plants the resume address: just below the 128-byte red zone.
	retFrameDepth = 136
	// maxBlock bounds stage 2 plus the stubs.
	maxBlock = 16384
	// signalRoom is left between the red zone and the data block for a
	// signal frame delivered before stage 1 has moved the stack pointer.
	signalRoom = 16384
	// dataGap is how far below the original stack pointer stage 1 puts the
	// data block: (rsp - dataGap) rounded down to 64 bytes. It is a constant
	// so that stage 1 needs no per-attach value.
	dataGap = retFrameDepth + signalRoom + dBlock + maxBlock

	// xsaveMask selects x87, SSE, AVX and AVX-512 state: everything the C
	// code stage 2 calls may use (glibc's string functions use AVX-512).
	xsaveMask = 0xe7
)

// regOrder is the order stage 3 pops the saved registers in.
var regOrder = [17]string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "eflags", "r15", "rsp"}

// savedRegisters are the registers read before an injection: those stage 3
// restores, the instruction pointer, and orig_rax, the system call the
// thread is in (-1 when none), which decides how it resumes.
var savedRegisters = append(regOrder[:], "rip", "orig_rax")

const (
	stackPointer = "rsp"
	elfMachine   = elf.EM_X86_64
	// entryOffset is where stage 1 starts in the fixed code (see fixedCode).
	entryOffset = 2
)

// checkVectorState has nothing to check on x86-64: stage 2 saves the whole
// vector state with XSAVE.
func (t *target) checkVectorState(context.Context, map[string]uint64) error { return nil }

// writeData writes the data block, except the XSAVE area, which stage 2
// fills itself before anything reads it — all but its header, which XRSTOR
// requires to be zero apart from what XSAVE writes.
func writeData(pid int, addr uint64, d []byte) error {
	mem, err := openMem(pid)
	if err != nil {
		return err
	}
	defer mem.Close()
	const headerEnd = dXsave + 576 // legacy area (512 bytes) + XSAVE header (64 bytes)
	if err := writeAt(mem, addr, d[:headerEnd]); err != nil {
		return err
	}
	return writeAt(mem, addr+dBlock, d[dBlock:])
}

// resumePoint returns where the interrupted code must continue, and fixes
// the saved rax for it. A thread stopped inside a system call that the
// kernel would restart (rax holds -ERESTARTSYS, -ERESTARTNOINTR,
// -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK) must re-execute the two-byte
// syscall instruction with the call's number in rax, as the kernel itself
// would have arranged had we not moved the instruction pointer.
func resumePoint(regs map[string]uint64) uint64 {
	rip := regs["rip"]
	if int64(regs["orig_rax"]) < 0 {
		return rip
	}
	switch int64(regs["rax"]) {
	case -errRestartSys, -errRestartNoIntr, -errRestartNoHand:
		regs["rax"] = regs["orig_rax"]
		return rip - 2
	case -errRestartRestartBlock:
		regs["rax"] = unix.SYS_RESTART_SYSCALL
		return rip - 2
	}
	return rip
}

// The kernel's internal "restart the system call" codes (linux/errno.h),
// which a thread stopped in a system call holds, negated, in rax.
const (
	errRestartSys          = 512
	errRestartNoIntr       = 513
	errRestartNoHand       = 514
	errRestartRestartBlock = 516
)

// trampolineCPU checks that this CPU runs the trampoline: stage 2 saves
// the vector registers with XSAVE.
func trampolineCPU() error {
	if !cpu.X86.HasOSXSAVE {
		return errors.New("the trampoline needs XSAVE, which this CPU or kernel lacks")
	}
	return nil
}

// fixedCode returns stages 1 and 3, and the offset of stage 3 in them. The
// entry point is offset 2: the first two bytes are a nop, so that a kernel
// that rewinds the instruction pointer by two to restart an interrupted
// system call lands in the nop instead of before the code.
func fixedCode() ([]byte, int, error) {
	a := newAsm()
	a.emit(0x66, 0x90) // nop
	// stage 1
	a.emit(0x4c, 0x8d, 0xbc, 0x24).imm32(-dataGap) // lea r15, [rsp-dataGap]
	a.emit(0x49, 0x83, 0xe7, 0xc0)                 // and r15, -64
	a.emit(0x4c, 0x89, 0xfc)                       // mov rsp, r15
	a.setByte(dStatus, byte(StatusStarted))
	a.movEAX(unix.SYS_MMAP)
	a.emit(0x31, 0xff)                                              // xor edi, edi: anywhere
	a.emit(0x41, 0x8b, 0x77, dSize)                                 // mov esi, [r15+dSize]
	a.emit(0xba).imm32(unix.PROT_READ | unix.PROT_WRITE)            // mov edx, prot
	a.emit(0x41, 0xba).imm32(unix.MAP_PRIVATE | unix.MAP_ANONYMOUS) // mov r10d, flags
	a.emit(0x49, 0x83, 0xc8, 0xff)                                  // or r8, -1: no file
	a.emit(0x45, 0x31, 0xc9)                                        // xor r9d, r9d: offset 0
	a.syscall()
	a.emit(0x48, 0x3d).imm32(-4095)                     // cmp rax, -4095: an errno?
	a.emit(0x73).rel8("mmapFailed")                     // jae
	a.emit(0x49, 0x89, 0x47, dBuf)                      // mov [r15+dBuf], rax
	a.emit(0x48, 0x89, 0xc7)                            // mov rdi, rax
	a.emit(0x49, 0x8d, 0xb7).imm32(dBlock)              // lea rsi, [r15+dBlock]
	a.emit(0x41, 0x8b, 0x4f, dLen)                      // mov ecx, [r15+dLen]
	a.emit(0xfc)                                        // cld
	a.emit(0xf3, 0xa4)                                  // rep movsb
	a.emit(0x49, 0x8b, 0x7f, dBuf)                      // mov rdi, [r15+dBuf]
	a.emit(0x41, 0x8b, 0x77, dSize)                     // mov esi, [r15+dSize]
	a.emit(0xba).imm32(unix.PROT_READ | unix.PROT_EXEC) // mov edx, prot
	a.movEAX(unix.SYS_MPROTECT)
	a.syscall()
	a.emit(0x85, 0xc0)                 // test eax, eax
	a.emit(0x75).rel8("protectFailed") // jnz
	a.emit(0x41, 0xff, 0x67, dBuf)     // jmp [r15+dBuf]: stage 2
	a.label("protectFailed")
	a.setByte(dUnmap, 1)
	a.label("mmapFailed")
	a.setByte(dStatus, byte(StatusNoMemory))
	// stage 3
	a.label("stage3")
	a.emit(0x41, 0x80, 0x7f, dUnmap, 0x00) // cmp byte [r15+dUnmap], 0
	a.emit(0x74).rel8("restore")           // je
	a.emit(0x49, 0x8b, 0x7f, dBuf)         // mov rdi, [r15+dBuf]
	a.emit(0x41, 0x8b, 0x77, dSize)        // mov esi, [r15+dSize]
	a.movEAX(unix.SYS_MUNMAP)
	a.syscall()
	a.label("restore")
	a.emit(0x49, 0x8b, 0x47, dResume)                                                          // mov rax, [r15+dResume]
	a.emit(0x49, 0x8b, 0x4f, dRetFrame)                                                        // mov rcx, [r15+dRetFrame]
	a.emit(0x48, 0x89, 0x01)                                                                   // mov [rcx], rax
	a.emit(0x49, 0x8d, 0x67, dRegs)                                                            // lea rsp, [r15+dRegs]
	a.emit(0x58, 0x5b, 0x59, 0x5a, 0x5e, 0x5f, 0x5d)                                           // pop rax rbx rcx rdx rsi rdi rbp
	a.emit(0x41, 0x58, 0x41, 0x59, 0x41, 0x5a, 0x41, 0x5b, 0x41, 0x5c, 0x41, 0x5d, 0x41, 0x5e) // pop r8..r14
	a.emit(0x9d)                                                                               // popfq
	a.emit(0x41, 0x5f)                                                                         // pop r15
	a.emit(0x5c)                                                                               // pop rsp: the original rsp - retFrameDepth
	a.emit(0xc2, 0x80, 0x00)                                                                   // ret 128: rip = resume, rsp = the original rsp
	code, err := a.bytes()
	return code, a.offset("stage3"), err
}

// stage2Prologue is how every stage 2 begins (saving the FPU state), by
// which a later attach recognises an earlier one's buffer.
func stage2Prologue() []byte {
	a := newAsm()
	a.xsave(xsaveMask, dXsave)
	return a.code
}

// stage2 returns stage 2, pendingFn and the stubs, as one position-
// independent block for the buffer.
func stage2(mode stageMode, runAddr, munmapAddr uint64, stub stubs, size uint32) ([]byte, error) {
	a := newAsm()
	a.label("start")
	a.emit(stage2Prologue()...)
	a.callSlot(slotIsInitialized)
	a.emit(0x85, 0xc0)                   // test eax, eax
	a.emit(0x0f, 0x84).rel32("notReady") // jz
	switch mode {
	case modePending:
		a.emit(0xe9).rel32("pending") // jmp
	case modeByGIL, modeDirect:
		a.callSlot(slotGILCheck)
		a.emit(0x85, 0xc0) // test eax, eax
		if mode == modeByGIL {
			a.emit(0x0f, 0x85).rel32("pending") // jnz
		} else {
			a.emit(0x0f, 0x85).rel32("gilHeld") // jnz
		}
	}
	a.callSlot(slotGILEnsure)
	a.emit(0x41, 0x89, 0xc6)               // mov r14d, eax: the GIL state
	a.emit(0x48, 0x8d, 0x3d).rel32("stub") // lea rdi, [rip+stub]
	a.callSlot(slotRunString)
	a.emit(0x44, 0x89, 0xf7) // mov edi, r14d
	a.callSlot(slotGILRelease)
	finish(a, StatusRan, true)
	a.label("pending")
	a.emit(0x48, 0x8d, 0x3d).rel32("pendingFn")  // lea rdi, [rip+pendingFn]
	a.emit(0x48, 0x8d, 0x35).rel32("queuedStub") // lea rsi, [rip+queuedStub]
	a.callSlot(slotAddPendingCall)
	a.emit(0x85, 0xc0)                    // test eax, eax
	a.emit(0x0f, 0x85).rel32("queueFull") // jnz
	finish(a, StatusQueued, false)
	a.label("queueFull")
	finish(a, StatusQueueFull, true)
	a.label("notReady")
	finish(a, StatusNotReady, true)
	a.label("gilHeld")
	finish(a, StatusGILHeld, true)
	a.label("done")
	a.xrstor(xsaveMask, dXsave)
	a.emit(0x41, 0xff, 0x67, dStage3) // jmp [r15+dStage3]

	// int pendingFn(void *stub): run the stub, then free this buffer.
	a.label("pendingFn")
	a.emit(0x53)                            // push rbx (aligns the stack for the call)
	a.emit(0xff, 0x15).rel32("runPtr")      // call [rip+runPtr]: PyRun_SimpleString(stub)
	a.emit(0x5b)                            // pop rbx
	a.emit(0x48, 0x8d, 0x3d).rel32("start") // lea rdi, [rip+start]: the buffer
	a.emit(0xbe).imm32(int32(size))         // mov esi, size
	a.emit(0xff, 0x25).rel32("munmapPtr")   // jmp [rip+munmapPtr]: munmap returns 0 to CPython
	a.label("runPtr").imm64(runAddr)
	a.label("munmapPtr").imm64(munmapAddr)
	a.label("stub").emit(stub.direct...)
	a.label("queuedStub").emit(stub.queued...)
	return a.bytes()
}

// finish records status, whether stage 3 must unmap the buffer, and goes
// to the common exit.
func finish(a *asm, s Status, unmap bool) {
	if unmap {
		a.setByte(dUnmap, 1)
	}
	a.setByte(dStatus, byte(s))
	a.emit(0xe9).rel32("done")
}

// dataBlock builds the data block: the C-API pointers, the saved registers
// and the bytes stage 1 copies. regs holds the values stage 3 restores.
func dataBlock(funcs [numSlots]uint64, stage3, resume, origRSP uint64, regs map[string]uint64, block []byte, size uint32) ([]byte, error) {
	if len(block) > maxBlock {
		return nil, fmt.Errorf("stage 2 and the stubs take %d bytes, more than %d", len(block), maxBlock)
	}
	d := make([]byte, dBlock+len(block))
	le := binary.LittleEndian
	for slot, f := range funcs {
		le.PutUint64(d[slotOffset(capiSlot(slot)):], f)
	}
	le.PutUint64(d[dStage3:], stage3)
	le.PutUint64(d[dResume:], resume)
	le.PutUint64(d[dRetFrame:], origRSP-retFrameDepth)
	le.PutUint32(d[dSize:], size)
	le.PutUint32(d[dLen:], uint32(len(block)))
	for i, name := range regOrder {
		v, ok := regs[name]
		if !ok {
			return nil, fmt.Errorf("register %s was not read", name)
		}
		if name == "rsp" {
			v = origRSP - retFrameDepth
		}
		le.PutUint64(d[dRegs+8*i:], v)
	}
	copy(d[dBlock:], block)
	return d, nil
}

// dataAddr is where stage 1 puts the data block for a thread whose stack
// pointer is rsp; the tracer writes the block there.
func dataAddr(rsp uint64) uint64 { return (rsp - dataGap) &^ 63 }

// slotOffset is where the data block holds a C-API function's address.
func slotOffset(s capiSlot) byte { return byte(dFuncs + 8*int(s)) }
