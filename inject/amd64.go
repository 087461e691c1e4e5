package inject

import (
	"encoding/binary"
	"fmt"
)

// The trampoline (x86-64) runs the stub without gdb's help: gdb writes it
// into the target and moves the main thread's instruction pointer to it,
// and the thread then does everything itself and resumes exactly where it
// was. See trampoline.go for how it is installed.
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
	dFuncs    = 0  // six C-API pointers, in funcNames order
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

// funcNames are the C functions stage 2 calls through the data block.
var funcNames = [6]string{"Py_IsInitialized", "PyGILState_Check", "PyGILState_Ensure", "PyRun_SimpleString", "PyGILState_Release", "Py_AddPendingCall"}

// regOrder is the order stage 3 pops the saved registers in.
var regOrder = [17]string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "eflags", "r15", "rsp"}

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
	a.emit(0x41, 0xc6, 0x47, dStatus, byte(StatusStarted))
	a.emit(0xb8).imm32(9)                  // mov eax, SYS_mmap
	a.emit(0x31, 0xff)                     // xor edi, edi
	a.emit(0x41, 0x8b, 0x77, dSize)        // mov esi, [r15+dSize]
	a.emit(0xba).imm32(3)                  // mov edx, PROT_READ|PROT_WRITE
	a.emit(0x41, 0xba).imm32(0x22)         // mov r10d, MAP_PRIVATE|MAP_ANONYMOUS
	a.emit(0x49, 0x83, 0xc8, 0xff)         // or r8, -1
	a.emit(0x45, 0x31, 0xc9)               // xor r9d, r9d
	a.emit(0x0f, 0x05)                     // syscall
	a.emit(0x48, 0x3d).imm32(-4095)        // cmp rax, -4095
	a.emit(0x73).rel8("mmapFailed")        // jae
	a.emit(0x49, 0x89, 0x47, dBuf)         // mov [r15+dBuf], rax
	a.emit(0x48, 0x89, 0xc7)               // mov rdi, rax
	a.emit(0x49, 0x8d, 0xb7).imm32(dBlock) // lea rsi, [r15+dBlock]
	a.emit(0x41, 0x8b, 0x4f, dLen)         // mov ecx, [r15+dLen]
	a.emit(0xfc)                           // cld
	a.emit(0xf3, 0xa4)                     // rep movsb
	a.emit(0x49, 0x8b, 0x7f, dBuf)         // mov rdi, [r15+dBuf]
	a.emit(0x41, 0x8b, 0x77, dSize)        // mov esi, [r15+dSize]
	a.emit(0xba).imm32(5)                  // mov edx, PROT_READ|PROT_EXEC
	a.emit(0xb8).imm32(10)                 // mov eax, SYS_mprotect
	a.emit(0x0f, 0x05)                     // syscall
	a.emit(0x85, 0xc0)                     // test eax, eax
	a.emit(0x75).rel8("protectFailed")     // jnz
	a.emit(0x41, 0xff, 0x67, dBuf)         // jmp [r15+dBuf]: stage 2
	a.label("protectFailed")
	a.emit(0x41, 0xc6, 0x47, dUnmap, 1)
	a.label("mmapFailed")
	a.emit(0x41, 0xc6, 0x47, dStatus, byte(StatusNoMemory))
	// stage 3
	a.label("stage3")
	a.emit(0x41, 0x80, 0x7f, dUnmap, 0x00) // cmp byte [r15+dUnmap], 0
	a.emit(0x74).rel8("restore")           // je
	a.emit(0x49, 0x8b, 0x7f, dBuf)         // mov rdi, [r15+dBuf]
	a.emit(0x41, 0x8b, 0x77, dSize)        // mov esi, [r15+dSize]
	a.emit(0xb8).imm32(11)                 // mov eax, SYS_munmap
	a.emit(0x0f, 0x05)                     // syscall
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
	xsaveState(a)
	return a.code
}

func xsaveState(a *asm) {
	a.emit(0xb8).imm32(xsaveMask)                // mov eax, mask
	a.emit(0x31, 0xd2)                           // xor edx, edx
	a.emit(0x49, 0x0f, 0xae, 0xa7).imm32(dXsave) // xsave64 [r15+dXsave]
}

// stubs are the stub rendered to run at once and to run queued.
type stubs struct {
	direct, queued []byte
}

// stage2 returns stage 2, pendingFn and the stubs, as one position-
// independent block for the buffer.
func stage2(mode stageMode, runAddr, munmapAddr uint64, stub stubs, size uint32) ([]byte, error) {
	a := newAsm()
	a.label("start")
	a.emit(0xb8).imm32(xsaveMask)                // mov eax, mask
	a.emit(0x31, 0xd2)                           // xor edx, edx
	a.emit(0x49, 0x0f, 0xae, 0xa7).imm32(dXsave) // xsave64 [r15+dXsave]
	a.emit(0x41, 0xff, 0x17)                     // call [r15+dFuncs]: Py_IsInitialized
	a.emit(0x85, 0xc0)                           // test eax, eax
	a.emit(0x0f, 0x84).rel32("notReady")         // jz
	switch mode {
	case modePending:
		a.emit(0xe9).rel32("pending") // jmp
	case modeByGIL, modeDirect:
		a.emit(0x41, 0xff, 0x57, 8) // call [r15+8]: PyGILState_Check
		a.emit(0x85, 0xc0)          // test eax, eax
		if mode == modeByGIL {
			a.emit(0x0f, 0x85).rel32("pending") // jnz
		} else {
			a.emit(0x0f, 0x85).rel32("gilHeld") // jnz
		}
	}
	a.emit(0x41, 0xff, 0x57, 16)           // call [r15+16]: PyGILState_Ensure
	a.emit(0x41, 0x89, 0xc6)               // mov r14d, eax
	a.emit(0x48, 0x8d, 0x3d).rel32("stub") // lea rdi, [rip+stub]
	a.emit(0x41, 0xff, 0x57, 24)           // call [r15+24]: PyRun_SimpleString
	a.emit(0x44, 0x89, 0xf7)               // mov edi, r14d
	a.emit(0x41, 0xff, 0x57, 32)           // call [r15+32]: PyGILState_Release
	finish(a, StatusRan, true)
	a.label("pending")
	a.emit(0x48, 0x8d, 0x3d).rel32("pendingFn")  // lea rdi, [rip+pendingFn]
	a.emit(0x48, 0x8d, 0x35).rel32("queuedStub") // lea rsi, [rip+queuedStub]
	a.emit(0x41, 0xff, 0x57, 40)                 // call [r15+40]: Py_AddPendingCall
	a.emit(0x85, 0xc0)                           // test eax, eax
	a.emit(0x0f, 0x85).rel32("queueFull")        // jnz
	finish(a, StatusQueued, false)
	a.label("queueFull")
	finish(a, StatusQueueFull, true)
	a.label("notReady")
	finish(a, StatusNotReady, true)
	a.label("gilHeld")
	finish(a, StatusGILHeld, true)
	a.label("done")
	a.emit(0xb8).imm32(xsaveMask)                // mov eax, mask
	a.emit(0x31, 0xd2)                           // xor edx, edx
	a.emit(0x49, 0x0f, 0xae, 0xaf).imm32(dXsave) // xrstor64 [r15+dXsave]
	a.emit(0x41, 0xff, 0x67, dStage3)            // jmp [r15+dStage3]

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
		a.emit(0x41, 0xc6, 0x47, dUnmap, 1)
	}
	a.emit(0x41, 0xc6, 0x47, dStatus, byte(s))
	a.emit(0xe9).rel32("done")
}

// dataBlock builds the data block: the C-API pointers, the saved registers
// and the bytes stage 1 copies. regs holds the values stage 3 restores.
func dataBlock(funcs [6]uint64, stage3, resume, origRSP uint64, regs map[string]uint64, block []byte, size uint32) ([]byte, error) {
	if len(block) > maxBlock {
		return nil, fmt.Errorf("stage 2 and the stubs take %d bytes, more than %d", len(block), maxBlock)
	}
	d := make([]byte, dBlock+len(block))
	le := binary.LittleEndian
	for i, f := range funcs {
		le.PutUint64(d[dFuncs+8*i:], f)
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
