package main

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// heartbeatFile lays out a heartbeat file as target.py writes it.
func heartbeatFile(beats int64, gaps ...gap) []byte {
	data := make([]byte, heartbeatHeader+heartbeatRing*heartbeatEntry)
	copy(data, heartbeatMagic)
	le := binary.LittleEndian
	le.PutUint64(data[8:], uint64(beats))
	for i, g := range gaps {
		n := beats - int64(len(gaps)) + int64(i)
		off := heartbeatHeader + (n%heartbeatRing)*heartbeatEntry
		le.PutUint64(data[off:], uint64(g.start))
		le.PutUint64(data[off+8:], uint64(g.end))
		le.PutUint64(data[16:], uint64(g.end))
	}
	return data
}

func TestParseHeartbeat(t *testing.T) {
	gaps := []gap{{100, 200}, {200, 300}, {300, 900}}
	tests := []struct {
		name    string
		data    []byte
		want    []gap
		wantErr error
	}{
		{"not yet written", make([]byte, heartbeatHeader+heartbeatRing*heartbeatEntry), nil, errNoHeartbeat},
		{"too short", []byte(heartbeatMagic), nil, errNoHeartbeat},
		{"fresh", heartbeatFile(3, gaps...), gaps, nil},
		{"wrapped ring", heartbeatFile(heartbeatRing+2, gaps...), gaps, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb, err := parseHeartbeat(tt.data)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got := hb.gaps[len(hb.gaps)-len(tt.want):]
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("gap %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
			if hb.last != 900 {
				t.Errorf("last = %d, want 900", hb.last)
			}
		})
	}
}

func TestWithin(t *testing.T) {
	hb := heartbeat{beats: 3, last: 40, gaps: []gap{{0, 10}, {10, 30}, {30, 40}}}
	tests := []struct {
		name     string
		from, to int64
		now      int64
		want     time.Duration
		wantErr  bool
	}{
		{"window inside one gap", 12, 20, 41, 20, false},
		{"window across gaps", 5, 35, 41, 20, false},
		{"gap still open at the read", 35, 60, 100, 60, false},
		{"before the heartbeat began", -5, 5, 41, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := hb.within(tt.from, tt.to, tt.now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := longest(in); got != tt.want {
				t.Errorf("longest = %v, want %v", got, tt.want)
			}
		})
	}
}
