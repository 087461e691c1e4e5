package remoteexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pyattach/pyattach/internal/procfs"
)

// scriptDirs are the directories, as the target names them, where a script
// for it may go, best first: each is normally world-writable and sticky.
var scriptDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}

// ScriptDir returns a directory where a script readable by the target's user
// can be written: hostPath as pyattach reaches it (through /proc/PID/root,
// which leads into the target's mount namespace and chroot) and targetPath as
// the target names it. It picks the first of /tmp, /var/tmp and /dev/shm that
// is a real directory (a symbolic link would be resolved against pyattach's
// root, not the target's), that the target's user can search and that we can
// write to.
func ScriptDir(pid int) (hostPath, targetPath string, err error) {
	p, err := procfs.Read(pid)
	if err != nil {
		return "", "", fmt.Errorf("script directory: %w", err)
	}
	var reasons []error
	for _, dir := range scriptDirs {
		host := filepath.Join("/proc", fmt.Sprint(pid), "root", dir)
		if err := checkScriptDir(host, p); err != nil {
			reasons = append(reasons, err)
			continue
		}
		return host, dir, nil
	}
	return "", "", fmt.Errorf("no directory for a script in process %d's file system: %w", pid, errors.Join(reasons...))
}

func checkScriptDir(host string, p *procfs.Process) error {
	info, err := os.Lstat(host)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", host)
	}
	owner := -1
	if st, ok := info.Sys().(*unix.Stat_t); ok {
		owner = int(st.Uid)
	}
	if info.Mode().Perm()&0o001 == 0 && owner != p.EUID && p.EUID != 0 {
		return fmt.Errorf("%s is not searchable by the target's user (uid %d)", host, p.EUID)
	}
	if err := unix.Access(host, unix.W_OK); err != nil {
		return &fs.PathError{Op: "access", Path: host, Err: err}
	}
	return nil
}

// Script is a Python file written for a target by WriteScript.
type Script struct {
	HostPath   string // where pyattach reaches it
	TargetPath string // what the target calls it: the path to give Exec
}

// WriteScript writes source to a new file in the target's ScriptDir, named
// pyattach-*.py, readable by the target's effective user only (mode 0600,
// owned by that user): the bootstrap may carry a secret for connecting back.
// Remove the script once it has run, or once the attach has failed.
func WriteScript(pid int, source []byte) (*Script, error) {
	hostDir, targetDir, err := ScriptDir(pid)
	if err != nil {
		return nil, err
	}
	p, err := procfs.Read(pid)
	if err != nil {
		return nil, fmt.Errorf("write script: %w", err)
	}
	// CreateTemp opens with O_EXCL, so it never follows a symbolic link that
	// the target's user planted at the name.
	f, err := os.CreateTemp(hostDir, "pyattach-*.py")
	if err != nil {
		return nil, fmt.Errorf("write script: %w", err)
	}
	s := &Script{HostPath: f.Name(), TargetPath: filepath.Join(targetDir, filepath.Base(f.Name()))}
	_, err = f.Write(source)
	if err == nil && os.Geteuid() != p.EUID {
		err = f.Chown(p.EUID, p.EGID)
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("write script: %w", err), s.Remove())
	}
	return s, nil
}

// Remove deletes the script; a script that is already gone is not an error.
func (s *Script) Remove() error {
	if err := os.Remove(s.HostPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove script: %w", err)
	}
	return nil
}
