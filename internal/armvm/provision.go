package armvm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pyattach/pyattach/internal/debugpydist"
)

// Where Provision puts things in the machine.
const (
	PyattachPath = "/usr/local/bin/pyattach"
	// DebugpyDir holds pyattach's copy of debugpy (PYATTACH_DEBUGPY_DIR).
	DebugpyDir = "/opt/pyattach/debugpy-" + debugpydist.Version
)

// Provision builds pyattach for arm64 as it is released
// (scripts/build-binary.sh, run from repo) and copies it into the machine
// with pyattach's debugpy: the wheel debugpy publishes for aarch64 Linux,
// which for debugpy 1.8 is its pure-Python one (py2.py3-none-any: no
// compiled speedups, and no helper library for aarch64, whose work
// pyattach's bootstrap then does itself).
func (v *VM) Provision(ctx context.Context, repo string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	bin := filepath.Join(v.work, "pyattach-arm64")
	build := exec.CommandContext(ctx, filepath.Join(repo, "scripts", "build-binary.sh"), "arm64", bin)
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building pyattach for arm64: %w: %s", err, out)
	}
	if err := v.CopyIn(ctx, bin, PyattachPath, 0o755); err != nil {
		return err
	}
	whl, err := debugpyWheel(ctx, v.dir)
	if err != nil {
		return err
	}
	if err := v.CopyIn(ctx, whl, "/tmp/debugpy.whl", 0o644); err != nil {
		return err
	}
	// No native helper for aarch64 (debugpy ships none): on CPython
	// 3.8-3.11 pyattach's bootstrap traces the running threads itself.
	_, err = v.Run(ctx, fmt.Sprintf("rm -rf %[1]s && python3 -m zipfile -e /tmp/debugpy.whl %[1]s && rm /tmp/debugpy.whl && python3 -m compileall -q %[1]s >/dev/null", DebugpyDir))
	return err
}

// debugpyWheel returns debugpy's aarch64 Linux wheel, downloaded with the
// host's pip into the image directory the first time (the machine itself
// reaches no package index).
func debugpyWheel(ctx context.Context, dir string) (string, error) {
	pattern := filepath.Join(dir, "debugpy-"+debugpydist.Version+"-*.whl")
	if found, _ := filepath.Glob(pattern); len(found) > 0 {
		return found[0], nil
	}
	dl := exec.CommandContext(ctx, "python3", "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-cache-dir",
		"--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_aarch64", "--python-version", "3.11",
		"--dest", dir, "debugpy=="+debugpydist.Version)
	if out, err := dl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("downloading debugpy %s for aarch64: %w: %s", debugpydist.Version, err, out)
	}
	found, _ := filepath.Glob(pattern)
	if len(found) == 0 {
		return "", fmt.Errorf("pip downloaded no debugpy %s wheel for aarch64 into %s", debugpydist.Version, dir)
	}
	return found[0], os.Chmod(found[0], 0o644)
}
