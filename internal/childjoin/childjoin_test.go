package childjoin

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestJoin: a session with the token is admitted, and what it writes then
// reaches the adapter's end; one with another token is refused and never
// reaches it.
func TestJoin(t *testing.T) {
	got := make(chan []byte, 2)
	p, err := Open("secret", func(f *os.File) error {
		b := make([]byte, 5)
		_, err := io.ReadFull(f, b)
		got <- b
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if fi, err := os.Stat(p.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory %s: %v, %v; want mode 0700", p.dir, fi, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := Join(ctx, Ticket{Socket: p.Ticket().Socket, Token: "guess"}); err == nil {
		t.Fatal("a wrong token was admitted")
	}
	c, err := Join(ctx, p.Ticket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if string(b) != "hello" {
			t.Fatalf("the adapter's end read %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing reached the adapter's end")
	}
	if len(got) != 0 {
		t.Fatal("the refused session reached the adapter")
	}
}

// TestCloseRemovesTheSocket: nothing is left in the file system.
func TestCloseRemovesTheSocket(t *testing.T) {
	p, err := Open("t", func(*os.File) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there: %v", p.dir, err)
	}
}

// TestUserDirOnlyThisUser: the directory is made closed to everyone else,
// and one that others may enter is refused rather than used.
func TestUserDirOnlyThisUser(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir, err := UserDir()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, %v; want a directory with mode 0700", dir, fi.Mode(), err)
	}
	if again, err := UserDir(); err != nil || again != dir {
		t.Fatalf("second call: %q, %v; want %q", again, err, dir)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := UserDir(); err == nil || !strings.Contains(err.Error(), "only this user") {
		t.Fatalf("a directory others may enter: %v; want it refused", err)
	}
}
