package procfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Mapping is one line of /proc/PID/maps: a range of the target's address
// space and what backs it.
type Mapping struct {
	Start, End uint64
	Perms      string // such as "r-xp"
	Offset     uint64 // offset in the file that Start maps
	Inode      uint64 // 0 for anonymous memory
	// Path is the backing file as the kernel names it to us (see the
	// package comment: our root's view for a chroot, the target's own for
	// another mount namespace; it may end in " (deleted)"), a pseudo-name
	// such as "[heap]", or "" for anonymous memory. OpenMapped opens it.
	Path string
}

// Maps returns the process's memory mappings in address order. Reading
// another user's maps is denied without CAP_SYS_PTRACE.
func (p *Process) Maps() ([]Mapping, error) {
	data, err := os.ReadFile(procPath(p.PID, "maps"))
	if err != nil {
		return nil, processError(p.PID, err)
	}
	maps, err := parseMaps(string(data))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", p.PID, err)
	}
	return maps, nil
}

// parseMaps parses lines such as
//
//	7f3a1c000000-7f3a1c021000 r-xp 00001000 fd:01 1234   /usr/lib/libpython3.11.so.1.0
//
// The path is the rest of the line after the inode, and may contain spaces.
func parseMaps(data string) ([]Mapping, error) {
	var maps []Mapping
	for line := range strings.Lines(data) {
		m, err := parseMapping(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return nil, fmt.Errorf("malformed maps line %q: %w", line, err)
		}
		maps = append(maps, m)
	}
	return maps, nil
}

func parseMapping(line string) (Mapping, error) {
	var f [5]string // range, perms, offset, device, inode
	rest := line
	for i := range f {
		var ok bool
		f[i], rest, ok = strings.Cut(strings.TrimLeft(rest, " "), " ")
		if !ok && i < len(f)-1 {
			return Mapping{}, errors.New("too few fields")
		}
	}
	start, end, ok := strings.Cut(f[0], "-")
	if !ok {
		return Mapping{}, fmt.Errorf("bad address range %q", f[0])
	}
	var m Mapping
	var errs [4]error
	m.Start, errs[0] = strconv.ParseUint(start, 16, 64)
	m.End, errs[1] = strconv.ParseUint(end, 16, 64)
	m.Offset, errs[2] = strconv.ParseUint(f[2], 16, 64)
	m.Inode, errs[3] = strconv.ParseUint(f[4], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return Mapping{}, err
	}
	m.Perms = f[1]
	m.Path = strings.TrimLeft(rest, " ")
	return m, nil
}

// OpenMapped opens the very file that m, a mapping of process pid, maps.
//
// The path in /proc/PID/maps is the kernel's rendering of the file against
// the reader's root: for a target in a chroot below our root it is the full
// path from ours (/srv/root/usr/bin/python3), for a target in another mount
// namespace it is the path in that namespace, and for a file unlinked since
// it was mapped it ends in " (deleted)". So the candidates are, in order, the
// path itself, the path under /proc/PID/root (the target's root, from any
// namespace) and /proc/PID/map_files/START-END (the kernel's own link to the
// mapped file, which only a reader with CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE may follow); the first whose inode is the
// mapping's wins. The readable paths come first because the file's name
// shows up in diagnostics. If none matches, the path under /proc/PID/root is
// used when it opens: it is what the target itself would open by that name
// (a file system whose inode numbers differ between views, such as some
// overlays, is the case this covers).
//
// The returned file's Name is the path it was opened by.
func OpenMapped(pid int, m Mapping) (*os.File, error) {
	viaRoot := procPath(pid, "root") + m.Path
	candidates := []string{m.Path, viaRoot, fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, m.Start, m.End)}
	var errs []error
	for _, path := range candidates {
		f, err := openInode(path, m.Inode)
		if err == nil {
			return f, nil
		}
		errs = append(errs, err)
	}
	if f, err := os.Open(viaRoot); err == nil {
		return f, nil
	}
	return nil, fmt.Errorf("open %s, mapped into process %d: %w", m.Path, pid, errors.Join(errs...))
}

// openInode opens path if it is the file with inode number ino.
func openInode(path string, ino uint64) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil {
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok && st.Ino == ino {
			return f, nil
		}
		err = fmt.Errorf("%s is not the mapped file (inode %d)", path, ino)
	}
	f.Close()
	return nil, err
}

// hostPath returns a path through which we can open the file behind m, the
// first mapping of a file in process pid (see OpenMapped).
func hostPath(pid int, m Mapping) (string, error) {
	f, err := OpenMapped(pid, m)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return f.Name(), nil
}

// mappingsOf returns the mappings of the file the target calls path.
func mappingsOf(maps []Mapping, path string) []Mapping {
	var of []Mapping
	for _, m := range maps {
		if m.Path == path {
			of = append(of, m)
		}
	}
	return of
}
