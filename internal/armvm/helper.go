package armvm

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pyattach/pyattach/internal/debugpydist"
)

// debugpy's helper library: on CPython 3.11 and older, pydevd sets its
// trace function on threads that are already running (the target's main
// thread, whose loop the breakpoints are in) through a small native
// library, attach_linux_<arch>.so. debugpy's wheels ship it for x86-64
// only; for aarch64 pydevd looks for attach_linux_aarch64.so, which a user
// must compile from debugpy's own attach.cpp. Without it, breakpoints in
// code that an already-running thread executes are never hit there.
const (
	helperDir  = "debugpy/_vendored/pydevd/pydevd_attach_to_process/"
	helperName = "attach_linux_aarch64.so"
)

// HelperPath is where the helper goes in the machine.
const HelperPath = DebugpyDir + "/" + helperDir + helperName

// aarch64Helper returns debugpy's helper compiled for aarch64 from the
// wheel's attach.cpp with the flags of its compile_linux.sh, by Debian's
// cross compiler (g++-aarch64-linux-gnu), cached beside the wheel.
func aarch64Helper(ctx context.Context, dir, whl string) (string, error) {
	out := filepath.Join(dir, "attach_linux_aarch64-debugpy-"+debugpydist.Version+".so")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	src, err := os.MkdirTemp("", "pyattach-helper-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	if err := extractPrefix(whl, helperDir, src); err != nil {
		return "", err
	}
	cc := exec.CommandContext(ctx, "aarch64-linux-gnu-g++", "-std=c++11", "-shared", "-fPIC", "-O2", "-D_FORTIFY_SOURCE=2",
		"-nostartfiles", "-fstack-protector-strong", filepath.Join(src, helperDir, "linux_and_mac", "attach.cpp"), "-o", out+".tmp")
	if b, err := cc.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling debugpy's helper for aarch64 (apt-get install g++-aarch64-linux-gnu): %w: %s", err, b)
	}
	return out, os.Rename(out+".tmp", out)
}

// extractPrefix extracts the wheel's files under prefix into dest.
func extractPrefix(whl, prefix, dest string) error {
	r, err := zip.OpenReader(whl)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, f := range r.File {
		if !strings.HasPrefix(f.Name, prefix) || strings.HasSuffix(f.Name, "/") || strings.Contains(f.Name, "..") {
			continue
		}
		if err := extractOne(f, filepath.Join(dest, f.Name)); err != nil {
			return err
		}
	}
	return nil
}

func extractOne(f *zip.File, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	in, err := f.Open()
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
