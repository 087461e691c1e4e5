package procfs

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Unreadable says why process p could not open file for reading, file
// being a path as p names it (in its root and mount namespace), judged by
// existence there and by the permission bits on the way for p's effective
// ids; "" if it can. The attach (which must know whether a target can
// import pyattach's copy of debugpy) and `pyattach doctor` share it.
func Unreadable(p *Process, file string) string {
	root := fmt.Sprintf("/proc/%d/root", p.PID)
	if _, err := os.Stat(root + file); err != nil {
		return fmt.Sprintf("%s does not exist in its file system (another mount namespace, such as a container's)", file)
	}
	if p.EUID == 0 {
		return ""
	}
	gids := append(supplementaryGroups(p.PID), p.EGID)
	dir := "/"
	for _, part := range strings.Split(strings.Trim(path.Clean(file), "/"), "/") {
		if !permits(root+dir, p.EUID, gids, 1) {
			return fmt.Sprintf("its user (uid %d) may not enter %s", p.EUID, dir)
		}
		dir = path.Join(dir, part)
	}
	if !permits(root+file, p.EUID, gids, 4) {
		return fmt.Sprintf("its user (uid %d) may not read %s", p.EUID, file)
	}
	return ""
}

// permits reports whether the permission bits of file grant uid (in the
// groups gids) the access bit: 4 read, 1 execute (search, for a directory).
func permits(file string, uid int, gids []int, bit uint32) bool {
	info, err := os.Stat(file)
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := uint32(info.Mode().Perm())
	switch {
	case int(st.Uid) == uid:
		return mode>>6&bit != 0
	case slices.Contains(gids, int(st.Gid)):
		return mode>>3&bit != 0
	}
	return mode&bit != 0
}

// supplementaryGroups returns the Groups: of process pid's status.
func supplementaryGroups(pid int) []int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	var gids []int
	for line := range strings.Lines(string(status)) {
		if list, ok := strings.CutPrefix(line, "Groups:"); ok {
			for _, f := range strings.Fields(list) {
				if gid, err := strconv.Atoi(f); err == nil {
					gids = append(gids, gid)
				}
			}
		}
	}
	return gids
}
