package netns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestListenInAnotherNamespace opens a listener in the network namespace
// of a process that has one of its own (made with unshare), and checks
// that the process's loopback reaches it while pyattach's does not.
func TestListenInAnotherNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace")
	}
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	// The child brings its loopback up, says so, and then connects to
	// the port it reads from stdin.
	cmd := exec.Command("unshare", "--net", "sh", "-c", `ip link set lo up && echo up && exec "$0" -c '
import socket, sys
port = int(sys.stdin.readline())
s = socket.create_connection(("127.0.0.1", port), 5)
s.sendall(b"hello")
s.close()
'`, python)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	buf := make([]byte, 3)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "up\n" {
		t.Fatalf("the child did not bring its loopback up: %q %v", buf, err)
	}
	if same, err := Same(cmd.Process.Pid); err != nil || same {
		t.Fatalf("Same = %v, %v; want another namespace", same, err)
	}
	ln, err := ListenTCP(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().String()[strings.LastIndexByte(ln.Addr().String(), ':')+1:]
	if _, err := stdin.Write([]byte(port + "\n")); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := c.Read(got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	c.Close()
}
