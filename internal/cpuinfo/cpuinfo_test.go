package cpuinfo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRecordedCPUs checks the detection against /proc/cpuinfo files of both
// kinds of machine this project runs on.
func TestRecordedCPUs(t *testing.T) {
	tests := []struct {
		file  string
		model string
		amx   bool
	}{
		{"intel-xeon-amx.txt", "Intel(R) Xeon(R) Processor", true},
		{"amd-epyc.txt", "AMD EPYC 7B13", false},
		{"amd-epyc-genoa.txt", "AMD EPYC 9B14", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			cpu := Parse(text)
			if cpu.Model != tt.model || cpu.HasAMX() != tt.amx {
				t.Errorf("Parse = %q, AMX %t; want %q, AMX %t", cpu.Model, cpu.HasAMX(), tt.model, tt.amx)
			}
			if !cpu.Flags["xsave"] || !cpu.Flags["avx2"] {
				t.Errorf("flags xsave and avx2 not found among %d flags", len(cpu.Flags))
			}
			if note := cpu.XStateNote(); (note != "") != tt.amx {
				t.Errorf("XStateNote = %q, want a note only for AMX", note)
			}
		})
	}
}

func TestParseOddInput(t *testing.T) {
	for _, text := range []string{"", "garbage", "flags\n", "model name : X\n\nflags : amx_tile\n"} {
		if cpu := Parse([]byte(text)); cpu.HasAMX() {
			t.Errorf("Parse(%q) has AMX: flags of a later processor or none were taken", text)
		}
	}
}

func TestLocal(t *testing.T) {
	cpu := Local()
	t.Logf("this machine: %q, AMX %t", cpu.Model, cpu.HasAMX())
	if cpu.Model == "" || len(cpu.Flags) == 0 {
		t.Errorf("Local() = %+v: /proc/cpuinfo gave no model or flags", cpu)
	}
}
