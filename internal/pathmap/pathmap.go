package pathmap

import (
	"cmp"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pyattach/pyattach/internal/procfs"
)

// Mapping is one of debugpy's pathMappings: the directory LocalRoot of
// this machine is RemoteRoot in the target.
type Mapping struct {
	LocalRoot  string `json:"localRoot"`
	RemoteRoot string `json:"remoteRoot"`
	// ReadOnly says the target may not write there (a read-only mount).
	ReadOnly bool `json:"-"`
}

// Narration says in one line what the mapping does, for the session's
// progress messages.
func (m Mapping) Narration() string {
	s := fmt.Sprintf("%s in the target is %s here", m.RemoteRoot, m.LocalRoot)
	if m.ReadOnly {
		s += " (mounted read-only)"
	}
	return s
}

// For returns the path mappings for process pid, most specific first (the
// order debugpy tries them in), each with its narration line. A target
// that sees our files by our paths (our mount namespace and root) gets
// none.
func For(pid int) ([]Mapping, []string, error) {
	if same, err := sameView(pid); err != nil || same {
		return nil, nil, err
	}
	theirs, err := procfs.Mounts(pid)
	if err != nil {
		return nil, nil, err
	}
	ours, err := procfs.Mounts(0)
	if err != nil {
		return nil, nil, err
	}
	var mappings []Mapping
	var lines []string
	for _, m := range Derive(theirs, ours) {
		if sameDir(m.LocalRoot, ThroughRoot(pid, m.RemoteRoot)) {
			mappings = append(mappings, m)
			lines = append(lines, m.Narration())
		}
	}
	return mappings, lines, nil
}

// ThroughRoot returns the path by which this process reaches the file
// that process pid names remote, in the target's root file system (for a
// container, its image's files and its mounts): /proc/PID/root/remote.
// Reading it needs the permission to ptrace the target.
func ThroughRoot(pid int, remote string) string {
	return path.Join("/proc", strconv.Itoa(pid), "root", path.Clean("/"+remote))
}

// Local returns where this process reads the file the target names
// remote: in a mapped directory of ours when it lies in one, else through
// the target's root.
func Local(pid int, mappings []Mapping, remote string) string {
	for _, m := range mappings {
		if rel, ok := under(remote, m.RemoteRoot); ok {
			return path.Join(m.LocalRoot, rel)
		}
	}
	return ThroughRoot(pid, remote)
}

// sameView reports whether process pid sees the files by the paths we
// do: our mount namespace and our root directory.
func sameView(pid int) (bool, error) {
	for _, entry := range []string{"ns/mnt", "root"} {
		theirs, err := os.Stat(fmt.Sprintf("/proc/%d/%s", pid, entry))
		if err != nil {
			return false, err
		}
		ours, err := os.Stat("/proc/self/" + entry)
		if err != nil {
			return false, err
		}
		if !os.SameFile(theirs, ours) {
			return false, nil
		}
	}
	return true, nil
}

// sameDir reports whether a and b are the same directory.
func sameDir(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && ia.IsDir() && os.SameFile(ia, ib)
}

// Derive returns the candidate mappings for a target with the mount
// table theirs, seen from ours: each mount of the target (but its root)
// whose file system is mounted in ours at a directory that holds the
// mount's, most specific first, without those another one implies. The
// candidates are not checked against the files (For does that).
func Derive(theirs, ours []procfs.Mount) []Mapping {
	var found []Mapping
	for _, m := range visible(theirs) {
		if m.Point == "/" {
			continue // the container's own root file system: nothing of ours
		}
		local, ok := hostPath(m, ours)
		if !ok || local == m.Point {
			continue
		}
		found = append(found, Mapping{LocalRoot: local, RemoteRoot: m.Point, ReadOnly: m.ReadOnly()})
	}
	// Most specific first: debugpy uses the first mapping whose remote
	// root holds the file.
	slices.SortStableFunc(found, func(a, b Mapping) int {
		return cmp.Or(-cmp.Compare(depth(a.RemoteRoot), depth(b.RemoteRoot)), strings.Compare(a.RemoteRoot, b.RemoteRoot))
	})
	return withoutImplied(found)
}

// visible returns the mounts of a table that are not hidden under a later
// mount at the same point.
func visible(mounts []procfs.Mount) []procfs.Mount {
	last := map[string]int{}
	for i, m := range mounts {
		last[m.Point] = i
	}
	var out []procfs.Mount
	for i, m := range mounts {
		if last[m.Point] == i {
			out = append(out, m)
		}
	}
	return out
}

// hostPath returns where the directory that mount m shows lies in our
// tree: under the mount of ours of the same file system whose root holds
// m's root most closely.
func hostPath(m procfs.Mount, ours []procfs.Mount) (string, bool) {
	if pseudoFS(m.FSType) || runtimeFiles[m.Point] {
		return "", false
	}
	best, found := procfs.Mount{}, false
	for _, o := range ours {
		if o.Device != m.Device {
			continue
		}
		if _, ok := under(m.Root, o.Root); !ok {
			continue
		}
		if !found || len(o.Root) > len(best.Root) || len(o.Root) == len(best.Root) && len(o.Point) < len(best.Point) {
			best, found = o, true
		}
	}
	if !found {
		return "", false
	}
	rel, _ := under(m.Root, best.Root)
	return path.Join(best.Point, rel), true
}

// runtimeFiles are the files a container runtime mounts into every
// container, one by one: never sources.
var runtimeFiles = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true,
	"/dev/termination-log": true, "/run/.containerenv": true}

// pseudoFS reports whether a file system type holds no files a program's
// sources could be in.
func pseudoFS(fstype string) bool {
	switch fstype {
	case "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "nsfs", "securityfs", "debugfs", "tracefs", "bpf", "binfmt_misc", "fusectl", "configfs", "pstore", "devtmpfs":
		return true
	}
	return false
}

// under returns p relative to dir ("" for dir itself) if p is dir or lies
// in it.
func under(p, dir string) (string, bool) {
	p, dir = path.Clean(p), path.Clean(dir)
	switch {
	case p == dir:
		return "", true
	case dir == "/":
		return strings.TrimPrefix(p, "/"), true
	case strings.HasPrefix(p, dir+"/"):
		return p[len(dir)+1:], true
	}
	return "", false
}

// depth counts the components of an absolute path.
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(path.Clean(p), "/")
}

// withoutImplied drops each mapping that a less specific one implies (a
// mount of a subdirectory of a bound directory at the matching place),
// keeping those that differ from what their parent's mapping would give.
func withoutImplied(ms []Mapping) []Mapping {
	var out []Mapping
	for i, m := range ms {
		implied := false
		for _, parent := range ms[i+1:] {
			if rel, ok := under(m.RemoteRoot, parent.RemoteRoot); ok && rel != "" {
				implied = path.Join(parent.LocalRoot, rel) == m.LocalRoot && parent.ReadOnly == m.ReadOnly
				break // the nearest enclosing mapping decides
			}
		}
		if !implied {
			out = append(out, m)
		}
	}
	return out
}
