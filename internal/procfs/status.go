package procfs

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// status holds the fields of /proc/PID/status (or of a task's status) that
// Read and CheckPtrace use.
type status struct {
	tgid      int
	uids      [4]int // real, effective, saved, filesystem
	gids      [4]int
	tracerPID int
	nspid     []int
	threads   int
	capPrm    uint64
	capEff    uint64
	// owner is the uid owning the status file. The kernel makes the files of
	// a non-dumpable process owned by root, which is how we can tell.
	owner int
}

// readStatus reads and parses a status file and records its owner.
func readStatus(path string) (*status, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	st, err := parseStatus(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st.owner = int(info.Sys().(*syscall.Stat_t).Uid)
	return st, nil
}

// parseStatus parses the "Key:\tvalue" lines of a status file. Keys it does
// not need are ignored; a key it needs with a malformed value is an error.
func parseStatus(data string) (*status, error) {
	st := &status{}
	for line := range strings.Lines(data) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		var err error
		switch key {
		case "Tgid":
			st.tgid, err = parseInt(fields)
		case "Uid":
			err = parseIDs(fields, st.uids[:])
		case "Gid":
			err = parseIDs(fields, st.gids[:])
		case "TracerPid":
			st.tracerPID, err = parseInt(fields)
		case "Threads":
			st.threads, err = parseInt(fields)
		case "NSpid":
			st.nspid = make([]int, len(fields))
			err = parseIDs(fields, st.nspid)
		case "CapPrm":
			st.capPrm, err = parseCaps(fields)
		case "CapEff":
			st.capEff, err = parseCaps(fields)
		}
		if err != nil {
			return nil, fmt.Errorf("malformed %s line %q: %w", key, strings.TrimSpace(line), err)
		}
	}
	return st, nil
}

func parseInt(fields []string) (int, error) {
	if len(fields) != 1 {
		return 0, fmt.Errorf("want one value, have %d", len(fields))
	}
	return strconv.Atoi(fields[0])
}

// parseIDs fills ids from the same number of fields.
func parseIDs(fields []string, ids []int) error {
	if len(fields) != len(ids) {
		return fmt.Errorf("want %d values, have %d", len(ids), len(fields))
	}
	for i, f := range fields {
		id, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		ids[i] = id
	}
	return nil
}

func parseCaps(fields []string) (uint64, error) {
	if len(fields) != 1 {
		return 0, fmt.Errorf("want one value, have %d", len(fields))
	}
	return strconv.ParseUint(fields[0], 16, 64)
}
