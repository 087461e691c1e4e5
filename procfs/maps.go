package procfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// deletedSuffix is what the kernel appends to the path of a file that was
// unlinked (typically replaced by an upgrade) while still mapped or executed.
const deletedSuffix = " (deleted)"

// Mapping is one line of /proc/PID/maps: a range of the target's address
// space and what backs it.
type Mapping struct {
	Start, End uint64
	Perms      string // such as "r-xp"
	Offset     uint64 // offset in the file that Start maps
	Inode      uint64 // 0 for anonymous memory
	// Path is the backing file as the target names it (see the package
	// comment; it may end in " (deleted)"), a pseudo-name such as "[heap]",
	// or "" for anonymous memory.
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

// hostPath returns a path through which we can open the file behind m, the
// first mapping of a file in process pid (see the package comment).
func hostPath(pid int, m Mapping) string {
	if strings.HasSuffix(m.Path, deletedSuffix) {
		return fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, m.Start, m.End)
	}
	viaRoot := procPath(pid, "root") + m.Path
	if sameFile(m.Path, viaRoot) {
		return m.Path
	}
	return viaRoot
}

func sameFile(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
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
