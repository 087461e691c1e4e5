package debugpydist

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Version is the debugpy release pyattach supplies and is tested with: the
// newest that still installs on CPython 3.8 (1.8.22 needs 3.10), and it
// serves 3.14 and 3.15 too (tested with forky's, where it has no compiled
// parts and runs as plain Python).
const Version = "1.8.21"

// InstallRemedy says how to give a target that cannot import debugpy one.
func InstallRemedy() string {
	return fmt.Sprintf("Install it in the target's environment (pip install debugpy==%s), or run `pyattach install-debugpy` so pyattach can supply its own copy, or set debugpyPath.", Version)
}

// EnvDir names the environment variable that overrides Dir.
const EnvDir = "PYATTACH_DEBUGPY_DIR"

// minors are the CPython 3.x minor versions whose wheels Install unpacks.
var minors = []int{8, 9, 10, 11, 12, 13, 14}

// Dir returns the directory that holds pyattach's copy of debugpy (the
// directory containing the debugpy package), as Locate finds it.
func Dir() string {
	dir, _ := Locate()
	return dir
}

// How Locate found the directory.
const (
	FromEnv   = "set by " + EnvDir
	FromWheel = "installed beside pyattach"
	FromData  = "pyattach's data directory"
)

// Locate returns the directory that holds pyattach's copy of debugpy, and
// how it was chosen:
//
//   - $EnvDir, if set;
//   - else, when pyattach was installed from its wheel (pip, pipx, uv tool),
//     the site-packages directory of that environment, which holds the
//     debugpy Version the wheel depends on (see Beside);
//   - else DataDir(), where `pyattach install-debugpy` installs it.
func Locate() (dir, how string) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, FromEnv
	}
	if d := besideExecutable(); d != "" {
		return d, FromWheel
	}
	return DataDir(), FromData
}

// DataDir returns $XDG_DATA_HOME/pyattach/debugpy-Version (by default
// ~/.local/share/pyattach/debugpy-Version): where `pyattach install-debugpy`
// puts pyattach's copy of debugpy.
func DataDir() string {
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "pyattach", "debugpy-"+Version)
}

// besideExecutable is Beside for the running pyattach, found once. pipx and
// uv put a symbolic link to it on PATH; the executable's real path is in
// the environment it was installed into.
var besideExecutable = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return Beside(exe)
})

// sitePatterns are where pip installs packages under an environment's
// prefix: a virtual environment's (and pip --user's) site-packages, Debian's
// dist-packages, and the lib64 directories of Fedora and SUSE.
var sitePatterns = []string{
	"lib/python3*/site-packages",
	"lib64/python3*/site-packages",
	"lib/python3*/dist-packages",
}

// Beside returns the package directory of the Python environment whose
// scripts directory holds exe (PREFIX/bin/pyattach, as pip installs the
// pyattach wheel's command) if that directory holds debugpy Version — the
// wheel's dependency — and "" otherwise. A pip --user install, or a prefix
// with several Pythons, has one such directory per Python: the one that
// also holds pyattach's own installation record (pyattach-*.dist-info)
// wins.
func Beside(exe string) string {
	prefix := filepath.Dir(filepath.Dir(exe))
	var found []string
	seen := map[string]bool{}
	for _, pattern := range sitePatterns {
		dirs, _ := filepath.Glob(filepath.Join(prefix, filepath.FromSlash(pattern)))
		for _, dir := range dirs {
			real, err := filepath.EvalSymlinks(dir)
			if err != nil || seen[real] {
				continue
			}
			seen[real] = true
			if Installed(dir) && isDir(filepath.Join(dir, "debugpy-"+Version+".dist-info")) {
				found = append(found, dir)
			}
		}
	}
	for _, dir := range found {
		if ours, _ := filepath.Glob(filepath.Join(dir, "pyattach-*.dist-info")); len(ours) > 0 {
			return dir
		}
	}
	if len(found) > 0 {
		return found[0]
	}
	return ""
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// Installed reports whether dir holds a debugpy package.
func Installed(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "debugpy", "__init__.py"))
	return dir != "" && err == nil
}

// Install downloads debugpy Version's wheels for every supported CPython
// with python's pip and unpacks them into dir, replacing what was there.
// The tree is built beside dir and renamed into place, so a concurrent
// attach sees either the old copy or the new one, never half of one.
func Install(ctx context.Context, dir, python string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := replaceable(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	wheels, err := os.MkdirTemp(filepath.Dir(dir), ".wheels-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(wheels)
	for _, minor := range minors {
		if err := download(ctx, python, wheels, minor); err != nil {
			log.Warn("no debugpy wheel for this Python; it will run debugpy without compiled speedups", "python", fmt.Sprintf("3.%d", minor), "err", err)
		}
	}
	found, err := filepath.Glob(filepath.Join(wheels, "debugpy-*.whl"))
	if err != nil || len(found) == 0 {
		return fmt.Errorf("pip downloaded no debugpy %s wheel; check that %s can reach PyPI", Version, python)
	}
	staging, err := os.MkdirTemp(filepath.Dir(dir), ".debugpy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	for _, whl := range found {
		if err := unpack(whl, staging); err != nil {
			return fmt.Errorf("unpacking %s: %w", filepath.Base(whl), err)
		}
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return err
	}
	// Bytecode compiled now spares each target compiling debugpy when it
	// first imports it (or on every attach, when it may not write
	// __pycache__): that doubles the time debugpy takes to start.
	if out, err := exec.CommandContext(ctx, python, "-m", "compileall", "-q", "-j", "0", staging).CombinedOutput(); err != nil {
		log.Warn("could not precompile debugpy's bytecode", "python", python, "err", err, "output", strings.TrimSpace(string(out)))
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(staging, dir)
}

// replaceable returns an error unless dir is missing, empty or holds only
// what Install puts there: Install replaces the whole directory, which must
// not be a Python environment's site-packages (Beside) or any other
// directory given by mistake.
func replaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if name == "debugpy" || name == "__pycache__" || (strings.HasPrefix(name, "debugpy-") && strings.HasSuffix(name, ".dist-info")) {
			continue
		}
		return fmt.Errorf("refusing to replace %s: it holds %s, which is not part of a debugpy that pyattach installed; choose another directory", dir, name)
	}
	return nil
}

// download fetches the wheel for CPython 3.minor into dest.
func download(ctx context.Context, python, dest string, minor int) error {
	// --no-cache-dir: nothing is kept outside pyattach's own directory.
	cmd := exec.CommandContext(ctx, python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-cache-dir",
		"--no-deps", "--only-binary=:all:", "--python-version", fmt.Sprintf("3.%d", minor),
		"--dest", dest, "debugpy=="+Version)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unpack extracts a wheel's files under dest. Files that several wheels
// share are identical, so later wheels may overwrite earlier ones.
func unpack(whl, dest string) error {
	r, err := zip.OpenReader(whl)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, f := range r.File {
		if err := extract(f, dest); err != nil {
			return err
		}
	}
	return nil
}

func extract(f *zip.File, dest string) error {
	path := filepath.Join(dest, filepath.FromSlash(f.Name))
	if !strings.HasPrefix(path, filepath.Clean(dest)+string(os.PathSeparator)) {
		return fmt.Errorf("wheel entry %q escapes the target directory", f.Name)
	}
	if f.FileInfo().IsDir() {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	src, err := f.Open()
	if err != nil {
		return err
	}
	defer src.Close()
	return WriteFile(path, src, f.Mode()&0o111 != 0)
}

// WriteFile writes what src holds to the file path, creating or truncating
// it, readable by everyone (and executable by everyone when executable is
// set) whatever the umask: targets running as other users import these
// files.
func WriteFile(path string, src io.Reader, executable bool) error {
	mode := os.FileMode(0o644)
	if executable {
		mode = 0o755
	}
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Chmod(mode), dst.Close())
}
