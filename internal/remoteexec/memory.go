package remoteexec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pyattach/pyattach/internal/procfs"
)

// memory reads and writes another process's memory with process_vm_readv
// and process_vm_writev. They need the permission that ptrace-attaching the
// process needs, but neither stop it nor make us its tracer.
type memory struct{ pid int }

// vmTransfer is the signature that process_vm_readv and process_vm_writev share.
type vmTransfer func(pid int, local []unix.Iovec, remote []unix.RemoteIovec, flags uint) (int, error)

// read fills buf from the target's memory at addr.
func (m memory) read(addr uint64, buf []byte) error {
	return m.transfer("read", unix.ProcessVMReadv, addr, buf)
}

// write copies buf into the target's memory at addr.
func (m memory) write(addr uint64, buf []byte) error {
	return m.transfer("write", unix.ProcessVMWritev, addr, buf)
}

// transfer moves buf to or from addr, looping because the kernel may stop
// a transfer short at a page boundary.
func (m memory) transfer(verb string, move vmTransfer, addr uint64, buf []byte) error {
	for done := 0; done < len(buf); {
		rest := buf[done:]
		local := []unix.Iovec{{Base: unsafe.SliceData(rest)}}
		local[0].SetLen(len(rest))
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(done), Len: len(rest)}}
		n, err := move(m.pid, local, remote, 0)
		if err == nil && n == 0 {
			err = unix.EFAULT
		}
		if err != nil {
			return m.transferError(verb, addr+uint64(done), len(rest), err)
		}
		done += n
	}
	return nil
}

func (m memory) transferError(verb string, addr uint64, n int, err error) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("process %d: %w", m.pid, procfs.ErrNoProcess)
	case errors.Is(err, unix.EFAULT):
		return fmt.Errorf("%s %d bytes at %#x in process %d: not mapped (%w)", verb, n, addr, m.pid, err)
	}
	return fmt.Errorf("%s memory of process %d: %w", verb, m.pid, err)
}

// u64 reads the little-endian 64-bit word (a pointer, a uintptr_t) at addr.
func (m memory) u64(addr uint64) (uint64, error) {
	var b [8]byte
	if err := m.read(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// i32 reads the C int at addr.
func (m memory) i32(addr uint64) (int32, error) {
	var b [4]byte
	if err := m.read(addr, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}
