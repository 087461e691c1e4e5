package armvm

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pyattach/pyattach/internal/debugpydist"
)

// Where Provision puts things in the machine.
const (
	PyattachPath = "/usr/local/bin/pyattach"
	// DebugpyDir holds pyattach's copy of debugpy (PYATTACH_DEBUGPY_DIR).
	DebugpyDir = "/opt/pyattach/debugpy-" + debugpydist.Version
)

// Provision copies pyattach for arm64 into the machine — the one in the
// release artifacts when DistEnv names them (see releaseBinary), else one
// built as it is released (scripts/build-binary.sh, run from repo) — with
// pyattach's debugpy: the wheel debugpy publishes for aarch64 Linux,
// which for debugpy 1.8 is its pure-Python one (py2.py3-none-any: no
// compiled speedups, and no helper library for aarch64, whose work
// pyattach's bootstrap then does itself).
func (v *VM) Provision(ctx context.Context, repo string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	bin := filepath.Join(v.work, "pyattach-arm64")
	if dist := os.Getenv(DistEnv); dist != "" {
		v.Pyattach, err = releaseBinary(repo, dist, bin)
	} else {
		v.Pyattach, err = buildBinary(ctx, repo, bin)
	}
	if err != nil {
		return err
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

// DistEnv names the directory of `make dist`'s artifacts, whose arm64
// pyattach the machine then runs.
const DistEnv = "PYATTACH_DIST"

func buildBinary(ctx context.Context, repo, out string) (string, error) {
	build := exec.CommandContext(ctx, filepath.Join(repo, "scripts", "build-binary.sh"), "arm64", out)
	build.Dir = repo
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building pyattach for arm64: %w: %s", err, b)
	}
	return "built by scripts/build-binary.sh arm64", nil
}

// releaseBinary writes to out the pyattach of the arm64 release artifacts
// in dist — the wheel's — after checking that the .vsix and the bare
// binary carry the very same bytes: what the machine tests is what all
// three ship.
func releaseBinary(repo, dist, out string) (string, error) {
	v, err := os.ReadFile(filepath.Join(repo, "VERSION"))
	if err != nil {
		return "", err
	}
	version := strings.TrimSpace(string(v))
	wheel := fmt.Sprintf("pyattach-%s-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", version)
	vsix := fmt.Sprintf("pyattach-linux-arm64-%s.vsix", version)
	inWheel, err := zipEntry(filepath.Join(dist, wheel), fmt.Sprintf("pyattach-%s.data/scripts/pyattach", version))
	if err != nil {
		return "", err
	}
	inVSIX, err := zipEntry(filepath.Join(dist, vsix), "extension/bin/linux-arm64/pyattach")
	if err != nil {
		return "", err
	}
	bare, err := os.ReadFile(filepath.Join(dist, "pyattach-linux-arm64"))
	if err != nil {
		return "", err
	}
	if !bytes.Equal(inWheel, inVSIX) || !bytes.Equal(inWheel, bare) {
		return "", fmt.Errorf("the arm64 pyattach differs between %s, %s and pyattach-linux-arm64", wheel, vsix)
	}
	if err := os.WriteFile(out, inWheel, 0o755); err != nil {
		return "", err
	}
	return fmt.Sprintf("the release's: %s's (the same bytes as %s's and pyattach-linux-arm64)", wheel, vsix), nil
}

func zipEntry(archive, name string) ([]byte, error) {
	z, err := zip.OpenReader(archive)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	f, err := z.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	defer f.Close()
	return io.ReadAll(f)
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
