package netns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrDenied wraps the kernel's refusal to enter the namespace.
var ErrDenied = errors.New("may not enter the network namespace")

// Same reports whether process pid shares this process's network
// namespace.
func Same(pid int) (bool, error) {
	a, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return false, err
	}
	b, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// ListenTCP opens a TCP listener on 127.0.0.1 (any free port) in process
// pid's network namespace: pyattach's own when it is the same, or when
// the namespaces cannot be compared.
func ListenTCP(pid int) (*net.TCPListener, error) {
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if same, err := Same(pid); err != nil || same {
		return net.ListenTCP("tcp4", loopback)
	}
	var ln *net.TCPListener
	err := In(pid, func() error {
		var err error
		ln, err = net.ListenTCP("tcp4", loopback)
		return err
	})
	return ln, err
}

// In runs f on an OS thread that has entered process pid's network
// namespace. Sockets f creates belong to that namespace; f must not start
// goroutines that create sockets (they run on other threads).
func In(pid int, f func() error) error {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return err
	}
	defer target.Close()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer home.Close()

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("%w of process %d: %v", ErrDenied, pid, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays in the target's namespace: leaving the
			// goroutine locked makes the runtime end the thread with it.
			done <- errors.Join(ferr, fmt.Errorf("returning to pyattach's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}
