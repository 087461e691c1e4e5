package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/netns"
	"github.com/pyattach/pyattach/internal/pathmap"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/remoteexec"
)

// suppliedMarker is the file that a complete copy of pyattach's debugpy in
// a target's file system holds, written last.
const suppliedMarker = ".pyattach-complete"

// suppliedPath returns pyattach's own debugpy as the target names it, or ""
// when there is none to offer (not installed, or the user named a debugpy,
// which the bootstrap then uses alone). A target that cannot read
// pyattach's copy — it has another root file system (a chroot, a
// container's mount namespace), or runs as a user who may not read it (a
// service's user, when pyattach runs as root with its copy in root's home)
// — gets one in its own file system (see placeSupplied). Failing that, the
// attach goes on: the target may have a debugpy of its own.
func suppliedPath(req Request, target *Target, step stepper) string {
	if req.DebugpyPath != "" || !debugpydist.Installed(req.SuppliedDir) {
		return ""
	}
	pid := target.Process.PID
	why, err := suppliedOutOfReach(target.Process, req.SuppliedDir)
	if err != nil {
		req.Log.Warn("cannot tell whether the target has our root; assuming it does", "err", err)
	}
	if why == "" {
		return req.SuppliedDir
	}
	done := step.begin(fmt.Sprintf("process %d %s: making pyattach's debugpy %s available in its file system", pid, why, debugpydist.Version))
	path, reused, err := placeSupplied(pid, req.SuppliedDir)
	done(err)
	switch {
	case err != nil:
		req.Progress(fmt.Sprintf("could not place pyattach's debugpy in the target's file system (%v); it must have its own", err))
		return ""
	case reused:
		req.Progress("reusing pyattach's debugpy at " + path + " in the target's file system")
	default:
		req.Progress("copied pyattach's debugpy to " + path + " in the target's file system")
	}
	return path
}

// suppliedOutOfReach says why process p cannot import pyattach's copy of
// debugpy in dir, as a clause ("" if it can).
func suppliedOutOfReach(p *procfs.Process, dir string) (string, error) {
	same, err := sameRoot(p.PID)
	switch {
	case err != nil:
		return "", err
	case !same:
		return "has another root file system", nil
	}
	if blocked := procfs.Unreadable(p, filepath.Join(dir, "debugpy", "__init__.py")); blocked != "" {
		return "cannot read pyattach's debugpy in " + dir + " (" + blocked + ")", nil
	}
	return "", nil
}

// sameRoot reports whether process pid has the same root directory as this
// process: the same file system and directory, so that the same paths name
// the same files (mount namespaces made without a chroot share it too).
func sameRoot(pid int) (bool, error) {
	return sameAsOurs(pid, "root", "/")
}

// sameAsOurs reports whether /proc/PID/entry is the same file as ours, a
// path of this process's: its root directory, one of its namespaces.
func sameAsOurs(pid int, entry, ours string) (bool, error) {
	a, err := os.Stat(fmt.Sprintf("/proc/%d/%s", pid, entry))
	if err != nil {
		return false, err
	}
	b, err := os.Stat(ours)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// checkNetwork makes sure pyattach can open the sockets the target
// reports and connects to (on 127.0.0.1) in the target's network
// namespace: pyattach's own, or one of the target's own (a container's
// network) that pyattach may enter (see package netns). When the
// namespaces cannot be compared, the attach goes on.
func checkNetwork(pid int) error {
	if same, err := netns.Same(pid); err != nil || same {
		return nil
	}
	if err := netns.In(pid, func() error { return nil }); err != nil {
		return attacherr.Wrap(err, attacherr.OtherNetwork,
			fmt.Sprintf("Process %d runs in a network namespace of its own (a container's network), where 127.0.0.1 is not pyattach's, and pyattach may not enter it to open the ports the target reports and connects to: %v.", pid, err),
			"Run pyattach as root (entering another network namespace needs CAP_SYS_ADMIN; a rootless container's network is out of reach of its user too), or run pyattach inside the container or its pod (see Containers and Kubernetes in the README).")
	}
	return nil
}

// placeSupplied copies pyattach's debugpy (the directory src) into process
// pid's file system, as pyattach-debugpy-VERSION in the first of /tmp,
// /var/tmp and /dev/shm that its user can reach (remoteexec.ScriptDir), and
// returns the copy's path as the target names it, and whether it was there
// already.
//
// The copy is left there for later attaches to the same root (the marker
// file .pyattach-complete says it is whole), which reuse it; it costs about
// 50 MB once per root (what no Linux target runs left out: notForLinux),
// and goes with the root's temporary files. It belongs
// to pyattach's user and only it may write to it, which is what makes it
// safe to reuse: a copy found there that a user other than ours or root
// could have written is refused, never imported. The files are readable by everyone, so a
// target running as another user can import them.
func placeSupplied(pid int, src string) (path string, reused bool, err error) {
	hostDir, targetDir, err := remoteexec.ScriptDir(pid)
	if err != nil {
		return "", false, err
	}
	name := "pyattach-debugpy-" + debugpydist.Version
	path, final := filepath.Join(targetDir, name), filepath.Join(hostDir, name)
	if err := checkSupplied(final); err == nil {
		return path, true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	staging, err := os.MkdirTemp(hostDir, ".pyattach-debugpy-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(staging) // a no-op once renamed into place
	// Only the package: src may be a whole site-packages (pyattach installed
	// from its wheel supplies the debugpy installed beside it).
	pkg := filepath.Join(src, "debugpy")
	if err := copyTree(pkg, filepath.Join(staging, "debugpy")); err != nil {
		return "", false, fmt.Errorf("copy %s: %w", pkg, err)
	}
	if err := os.WriteFile(filepath.Join(staging, suppliedMarker), []byte(debugpydist.Version+"\n"), 0o644); err != nil {
		return "", false, err
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return "", false, err
	}
	if err := os.Rename(staging, final); err != nil {
		// Another attach may have placed its copy first.
		if checkSupplied(final) != nil {
			return "", false, err
		}
		return path, true, nil
	}
	return path, false, nil
}

// checkSupplied returns nil if dir is a complete copy that nobody but us
// (or root) can have written: a real directory owned by our user or root,
// writable by nobody else, with its marker. An error wrapping fs.ErrNotExist means there is
// none.
func checkSupplied(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	trusted := ok && (int(st.Uid) == os.Geteuid() || st.Uid == 0)
	if !info.IsDir() || !trusted || info.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is in the way: it is not a directory that only pyattach's user (or root) can write to; remove it", dir)
	}
	if _, err := os.Lstat(filepath.Join(dir, suppliedMarker)); err != nil {
		return fmt.Errorf("%s is an incomplete copy of debugpy (no %s); remove it", dir, suppliedMarker)
	}
	return nil
}

// notForLinux are what of debugpy no Linux target runs: pydevd's Windows
// injector (winappdbg, 11 MB with its bytecode), its C and Cython sources,
// and Windows and macOS binaries. copyTree leaves them out: a quarter of
// the 65 MB a first attach into a container copies.
var notForLinux = struct {
	dirs, suffixes []string
}{
	dirs:     []string{"winappdbg"},
	suffixes: []string{".c", ".cpp", ".h", ".hpp", ".pyx", ".pxd", ".dll", ".exe", ".pdb", ".dylib"},
}

// skipped reports whether copyTree leaves d out (see notForLinux).
func skipped(d fs.DirEntry) bool {
	if d.IsDir() {
		return slices.Contains(notForLinux.dirs, d.Name())
	}
	return slices.Contains(notForLinux.suffixes, filepath.Ext(d.Name()))
}

// copyTree copies the directories and regular files under src into dst,
// which exists, readable by everyone, less what no Linux target runs.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel != "." && skipped(d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil && !(rel == "." && errors.Is(err, fs.ErrExist)) {
				return err
			}
			return os.Chmod(to, 0o755) // whatever our umask
		case d.Type().IsRegular():
			return copyFile(path, to)
		}
		return nil // debugpy's wheels hold no links or devices
	})
}

// copyFile copies the regular file src to dst, keeping only whether it is
// executable.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if err := debugpydist.WriteFile(dst, in, info.Mode()&0o111 != 0); err != nil {
		return err
	}
	// The copy's .pyc files are valid only for sources with the
	// modification times they record: without them every attach would
	// compile debugpy anew (some 0.5 s, holding the GIL), or write the
	// caches into the copy.
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}

// pathMappings derives debugpy's pathMappings for a target in a container
// from its mount table: each directory bound from this machine's file
// system maps to its path here, so that breakpoints set on the files here
// hit in the target and its frames open them (see package pathmap). Where
// there are such mappings, a last one maps everything else to the target's
// own file system as pyattach reads it (/proc/PID/root): files that exist
// only in the image open from there. Each is narrated.
func pathMappings(req Request) []pathmap.Mapping {
	mappings, lines, err := pathmap.For(req.PID)
	if err != nil {
		req.Log.Warn("cannot derive path mappings from the target's mounts", "err", err)
		return nil
	}
	if len(mappings) == 0 {
		return nil
	}
	root := pathmap.Mapping{LocalRoot: pathmap.ThroughRoot(req.PID, "/"), RemoteRoot: "/"}
	mappings = append(mappings, root)
	lines = append(lines, root.Narration()+" (files that exist only in the target's file system)")
	for _, l := range lines {
		req.Progress("path mapping: " + l)
	}
	return mappings
}
