package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of /proc/PID/mountinfo: a file system mounted in the
// process's mount namespace. Paths are unescaped (the kernel writes space,
// tab, newline and backslash as octal escapes).
type Mount struct {
	ID, Parent int
	Device     string // "major:minor" of the file system
	// Root is the directory of the file system that is mounted: "/" for a
	// whole file system, a subdirectory for a bind mount of one.
	Root string
	// Point is where it is mounted, as the process reading mountinfo names
	// it: relative to the reader's root (a mount outside the reader's root
	// is left out by the kernel).
	Point   string
	Options []string // per-mount options: rw or ro, nosuid, ...
	FSType  string
	Source  string // the device or source the file system came from
}

// ReadOnly reports whether the mount is read-only.
func (m Mount) ReadOnly() bool {
	for _, o := range m.Options {
		if o == "ro" {
			return true
		}
	}
	return false
}

// Mounts returns the mounts in process pid's mount namespace, as seen from
// its root (pid 0 means this process).
func Mounts(pid int) ([]Mount, error) {
	file := "/proc/self/mountinfo"
	if pid != 0 {
		file = procPath(pid, "mountinfo")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, processError(pid, err)
	}
	return ParseMountInfo(string(data))
}

// ParseMountInfo parses the contents of a mountinfo file.
func ParseMountInfo(data string) ([]Mount, error) {
	var mounts []Mount
	for n, line := 1, ""; data != ""; n++ {
		line, data, _ = strings.Cut(data, "\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseMountLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// parseMountLine parses "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3
// /dev/root rw,errors=continue": six fields, optional fields up to "-",
// then the file system type, source and super-block options.
func parseMountLine(line string) (Mount, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 6 || sep < 0 || len(f) < sep+3 {
		return Mount{}, fmt.Errorf("malformed: %q", line)
	}
	id, err1 := strconv.Atoi(f[0])
	parent, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("malformed mount IDs: %q", line)
	}
	return Mount{
		ID: id, Parent: parent, Device: f[2],
		Root:    unescapeMount(f[3]),
		Point:   unescapeMount(f[4]),
		Options: strings.Split(f[5], ","),
		FSType:  f[sep+1],
		Source:  unescapeMount(f[sep+2]),
	}, nil
}

// unescapeMount undoes the kernel's escaping of paths in mountinfo: a
// backslash and three octal digits stand for one byte.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
