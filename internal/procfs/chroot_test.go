package procfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/forkyroot"
)

// TestDetectInOtherRoot detects Debian forky's CPython 3.14 running in
// another root file system — a chroot, a chroot in a mount namespace of its
// own, a root mounted in that namespace only — and finds its C API and its
// libc, the files the injector reads.
func TestDetectInOtherRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot and unshare")
	}
	root := forkyroot.Require(t)
	ready := pythonCommand(forkyroot.Python).Args[1:]
	tests := []struct {
		name string
		argv func(t *testing.T) []string
	}{
		// The maps name the files by their full paths from our root.
		{"chroot", func(*testing.T) []string { return []string{"chroot", root} }},
		{"mount namespace", func(*testing.T) []string { return []string{"unshare", "--mount", "chroot", root} }},
		// The root is mounted in the target's namespace only, so the maps
		// name files by a path that exists neither in ours nor in the
		// target's root: only /proc/PID/map_files reaches them.
		{"root mounted in its namespace only", func(t *testing.T) []string {
			return []string{"unshare", "--mount", "sh", "-c", `mount --bind "$0" "$1" && cd "$1" && shift && exec chroot . "$@"`, root, t.TempDir()}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append(append(tt.argv(t), forkyroot.Python), ready...)
			p, version := startPython(t, exec.Command(argv[0], argv[1:]...))
			py, err := DetectPython(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", py)
			if py.Implementation != CPython || py.Version.String() != version || !strings.HasPrefix(version, "3.14.") {
				t.Errorf("DetectPython() = %+v; want CPython %s (3.14)", py, version)
			}
			checkLibrary(t, p, py)
			libc, err := p.FindLibrary(regexp.MustCompile(`^libc[.-]`))
			if err != nil {
				t.Fatal(err)
			}
			checkMapped(t, p, libc.File, filepath.Base(libc.Path))
		})
	}
}

// checkMapped fails the test unless the file at path is mapped into p.
func checkMapped(t *testing.T, p *Process, path, name string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	maps, err := p.Maps()
	if err != nil {
		t.Fatal(err)
	}
	ino := info.Sys().(*syscall.Stat_t).Ino
	for _, m := range maps {
		if m.Inode == ino && filepath.Base(m.Path) == name {
			return
		}
	}
	t.Errorf("%s (inode %d) is not mapped into process %d as %s", path, ino, p.PID, name)
}
