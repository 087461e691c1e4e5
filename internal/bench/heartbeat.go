package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The heartbeat file's layout; target.py documents it.
const (
	heartbeatMagic  = "PYABENCH"
	heartbeatHeader = 8 + 8 + 8 // magic, beats, last_ns
	heartbeatEntry  = 8 + 8     // start_ns, end_ns
	heartbeatRing   = 65536
)

// errNoHeartbeat means the target has not started its heartbeat yet.
var errNoHeartbeat = errors.New("no heartbeat yet")

// gap is the time between two consecutive heartbeats, in CLOCK_MONOTONIC
// nanoseconds.
type gap struct{ start, end int64 }

func (g gap) length() time.Duration { return time.Duration(g.end - g.start) }

// heartbeat is what the target's heartbeat thread has recorded so far.
type heartbeat struct {
	beats int64 // gaps recorded since the target started
	last  int64 // time of the latest beat
	gaps  []gap // the most recent gaps, oldest first
}

// readHeartbeat reads the target's heartbeat file.
func readHeartbeat(path string) (heartbeat, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return heartbeat{}, err
	}
	return parseHeartbeat(data)
}

func parseHeartbeat(data []byte) (heartbeat, error) {
	var hb heartbeat
	if len(data) < heartbeatHeader+heartbeatRing*heartbeatEntry || !bytes.Equal(data[:8], []byte(heartbeatMagic)) {
		return hb, errNoHeartbeat
	}
	le := binary.LittleEndian
	hb.beats, hb.last = int64(le.Uint64(data[8:])), int64(le.Uint64(data[16:]))
	first := max(hb.beats-heartbeatRing, 0)
	for i := first; i < hb.beats; i++ {
		off := heartbeatHeader + (i%heartbeatRing)*heartbeatEntry
		hb.gaps = append(hb.gaps, gap{int64(le.Uint64(data[off:])), int64(le.Uint64(data[off+8:]))})
	}
	return hb, nil
}

// within returns the gaps that overlap the window [from, to]. A gap still
// open when the heartbeat was read (the thread has not beaten since last)
// counts as lasting until now.
func (hb heartbeat) within(from, to, now int64) ([]gap, error) {
	if len(hb.gaps) == 0 || hb.gaps[0].start > from {
		return nil, fmt.Errorf("the heartbeat does not cover the window (%d gaps recorded)", len(hb.gaps))
	}
	var in []gap
	for _, g := range append(hb.gaps, gap{hb.last, now}) {
		if g.end > from && g.start < to {
			in = append(in, g)
		}
	}
	return in, nil
}

// longest is the longest of gaps (zero for none).
func longest(gaps []gap) time.Duration {
	var l time.Duration
	for _, g := range gaps {
		l = max(l, g.length())
	}
	return l
}

// monoClock turns Go times into CLOCK_MONOTONIC nanoseconds, the clock of
// the target's time.monotonic_ns. Go's own monotonic readings come from
// that clock, so one offset, taken once, converts every time exactly.
type monoClock struct {
	base   time.Time
	baseNS int64
}

func newMonoClock() (monoClock, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return monoClock{}, fmt.Errorf("reading CLOCK_MONOTONIC: %w", err)
	}
	return monoClock{base: time.Now(), baseNS: ts.Nano()}, nil
}

func (c monoClock) ns(t time.Time) int64 { return c.baseNS + int64(t.Sub(c.base)) }
