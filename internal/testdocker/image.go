package testdocker

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/forkyroot"
)

// Image is an image made from a root file system that debootstrap builds.
type Image struct {
	Name     string // repository name; the tag says which build of the root it is
	Suite    string // Debian suite
	Packages string // what debootstrap --include adds to minbase, comma-separated
}

var (
	// Bookworm is Debian bookworm with its python3 (3.11) and no
	// debugpy: a service's image with nothing for debugging in it.
	Bookworm = Image{Name: "pyattach-test/bookworm", Suite: "bookworm", Packages: "python3"}
	// BookwormGDB is Bookworm with gdb, for pyattach in a sidecar or in
	// the target's own container. debootstrap does not resolve virtual
	// packages: gdb's libsource-highlight needs libboost-regex1.74.0-icu72,
	// which libboost-regex1.74.0 provides, named here.
	BookwormGDB = Image{Name: "pyattach-test/bookworm-gdb", Suite: "bookworm", Packages: "python3,gdb,libboost-regex1.74.0"}
)

// forkyName is the repository of the image made from the forky root.
const forkyName = "pyattach-test/forky"

// Image returns the reference (NAME:TAG) of img in the daemon, building
// its root file system the first time (debootstrap, kept in the cache)
// and importing it when the daemon does not have it.
func (d *Docker) Image(t testing.TB, img Image) string {
	t.Helper()
	ref, err := d.BuildImage(img, t.Logf)
	var unavailable *Unavailable
	if errors.As(err, &unavailable) {
		t.Skip(unavailable.Reason)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// BuildImage is Image for a program that is not a test (the benchmark):
// an *Unavailable error where Image skips; logf says what took long.
func (d *Docker) BuildImage(img Image, logf func(format string, args ...any)) (string, error) {
	root := filepath.Join(Dir(), "roots", strings.TrimPrefix(img.Name, "pyattach-test/"))
	if err := buildRoot(root, img, logf); err != nil {
		return "", err
	}
	return d.importRoot(img.Name, root, logf)
}

// ForkyImage returns the reference of an image made from the forky root
// that scripts/forky-rootfs.sh builds (CPython 3.14 and 3.15, with
// debugpy), and skips the test when that root is not built. The root is
// only read.
func (d *Docker) ForkyImage(t testing.TB) string {
	t.Helper()
	ref, err := d.importRoot(forkyName, forkyroot.Require(t), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// importRoot imports root as repository name, tagged by its marker, unless
// the daemon has that image already, and returns its reference.
func (d *Docker) importRoot(name, root string, logf func(format string, args ...any)) (string, error) {
	marker, err := os.ReadFile(filepath.Join(root, ".complete"))
	if err != nil {
		return "", fmt.Errorf("%s is not a finished root file system: %w", root, err)
	}
	sum := sha256.Sum256(marker)
	ref := name + ":" + hex.EncodeToString(sum[:6])
	if _, err := d.run("image", "inspect", "--format", "{{.Id}}", ref); err == nil {
		return ref, nil
	}
	began := time.Now()
	if err := d.importTree(root, ref); err != nil {
		return "", err
	}
	logf("docker: imported %s from %s in %s", ref, root, time.Since(began).Round(100*time.Millisecond))
	d.removeOlder(name, ref)
	return ref, nil
}

// removeOlder removes the images of repository name other than ref: those
// of roots since rebuilt. One still in use by a container stays.
func (d *Docker) removeOlder(name, ref string) {
	out, err := d.run("images", "--format", "{{.Repository}}:{{.Tag}}", name)
	if err != nil {
		return
	}
	for _, old := range strings.Fields(out) {
		if old != ref {
			_, _ = d.run("rmi", old)
		}
	}
}

// importTree feeds the files under root to `docker import` as image ref.
// Temporary directories are left out: tests of other packages make and
// remove files there while this runs.
func (d *Docker) importTree(root, ref string) error {
	tar := exec.Command("tar", "-C", root, "--exclude=./tmp/*", "--exclude=./var/tmp/*", "--exclude=./.complete", "-c", ".")
	imp := d.Command("import", "-", ref)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	imp.Stdin = pipe
	var tarErr, impErr strings.Builder
	tar.Stderr, imp.Stderr = &tarErr, &impErr
	if err := tar.Start(); err != nil {
		return err
	}
	if err := imp.Run(); err != nil {
		_ = tar.Process.Kill()
		_ = tar.Wait()
		return fmt.Errorf("docker import %s: %w: %s", ref, err, impErr.String())
	}
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("tar -C %s: %w: %s", root, err, tarErr.String())
	}
	return nil
}

// buildRoot makes img's root file system in root unless a finished one
// (with its .complete marker) is there: debootstrap into root.partial,
// renamed into place once it succeeded, under a lock so that concurrent
// test processes build it once.
func buildRoot(root string, img Image, logf func(format string, args ...any)) error {
	if done(root) {
		return nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return &Unavailable{"no debootstrap to build the test images with (scripts/setup.sh --tests installs it)"}
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(root+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	if done(root) { // another process built it while we waited
		return nil
	}
	began := time.Now()
	if err := debootstrap(root, img); err != nil {
		return err
	}
	logf("docker: built the root of %s (%s + %s) in %s", img.Name, img.Suite, img.Packages, time.Since(began).Round(100*time.Millisecond))
	return nil
}

// done reports whether root is a finished build.
func done(root string) bool {
	_, err := os.Stat(filepath.Join(root, ".complete"))
	return err == nil
}

// debootstrap builds img's root in root.partial and renames it to root.
func debootstrap(root string, img Image) error {
	partial, logPath := root+".partial", root+".log"
	if err := removeTree(partial); err != nil {
		return err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+img.Packages, "--keyring="+keyring(),
		img.Suite, partial, mirror())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		releaseMounts(partial)
		return fmt.Errorf("debootstrap %s (%s) from %s failed: %w: %s", img.Suite, img.Packages, mirror(), err, tail(logPath))
	}
	releaseMounts(partial)
	// The downloaded packages are only needed to build.
	debs, _ := filepath.Glob(filepath.Join(partial, "var/cache/apt/archives/*.deb"))
	for _, f := range debs {
		os.Remove(f)
	}
	marker := fmt.Sprintf("%s minbase, packages %s, built %s\n", img.Suite, img.Packages, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(partial, ".complete"), []byte(marker), 0o644); err != nil {
		return err
	}
	if err := os.Rename(partial, root); err != nil {
		return err
	}
	os.Remove(logPath)
	return nil
}

// mirror is the Debian mirror to bootstrap from: $PYATTACH_DEBIAN_MIRROR,
// as for scripts/forky-rootfs.sh, else Debian's own.
func mirror() string {
	if m := os.Getenv("PYATTACH_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// keyring verifies the suite's Release file: $PYATTACH_DEBIAN_KEYRING, as
// for scripts/forky-rootfs.sh, else Debian's archive keyring.
func keyring() string {
	if k := os.Getenv("PYATTACH_DEBIAN_KEYRING"); k != "" {
		return k
	}
	return "/usr/share/keyrings/debian-archive-keyring.gpg"
}

// removeTree removes what an interrupted build left at dir, after
// unmounting whatever debootstrap left mounted there, so that removing it
// cannot reach into the host's /proc or /sys.
func removeTree(dir string) error {
	if _, err := os.Lstat(dir); err != nil {
		return nil
	}
	releaseMounts(dir)
	return os.RemoveAll(dir)
}

// releaseMounts unmounts the mounts below dir, deepest first.
func releaseMounts(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var below []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			below = append(below, f[4])
		}
	}
	slices.Sort(below) // a mount's children sort after it
	for i := len(below) - 1; i >= 0; i-- {
		_ = syscall.Unmount(below[i], syscall.MNT_DETACH)
	}
}
