package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPollable gives pollable descriptors made the way a process inherits
// its stdin: opened blocking, wrapped by os.NewFile.
func TestPollable(t *testing.T) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "editor")
	defer r.Close()
	defer w.Close()
	regular, err := os.Create(filepath.Join(t.TempDir(), "requests"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	tests := []struct {
		name         string
		stdin        *os.File
		wantNonblock bool
	}{
		{"a pipe goes through the poller", r, true},
		{"a regular file is left alone", regular, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd := tt.stdin.Fd()
			got := pollable(tt.stdin)
			flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if nonblock := flags&unix.O_NONBLOCK != 0; nonblock != tt.wantNonblock {
				t.Errorf("O_NONBLOCK = %v, want %v", nonblock, tt.wantNonblock)
			}
			if (got != tt.stdin) != tt.wantNonblock {
				t.Errorf("pollable returned %v for %v", got, tt.stdin)
			}
		})
	}
	// What the editor writes still arrives.
	in := pollable(r)
	if _, err := w.WriteString("Content-Length: 2\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := in.Read(buf)
	if err != nil || !strings.HasSuffix(string(buf[:n]), "{}") {
		t.Errorf("reading through pollable: %q, %v", buf[:n], err)
	}
}
