package procfs

// Parents returns every visible process's parent PID, from /proc/PID/stat
// alone: the cheap read that process trees are built from. Processes that
// exit while it reads are left out.
func Parents() (map[int]int, error) {
	pids, err := PIDs()
	if err != nil {
		return nil, err
	}
	parents := make(map[int]int, len(pids))
	for _, pid := range pids {
		if st, err := readStat(pid); err == nil && st.state != StateZombie && st.state != StateDead {
			parents[pid] = st.ppid
		}
	}
	return parents, nil
}
