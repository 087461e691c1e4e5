package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/diag"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestDoctorExitStatus runs doctor on real targets: it must succeed for an
// attachable CPython and fail, naming the failed check, for the others.
func TestDoctorExitStatus(t *testing.T) {
	good := testtarget.Start(t, pyenv(t, 3, 11), testtarget.Idle)
	old := testtarget.Start(t, pyenv(t, 3, 7), testtarget.Idle)
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sleep.Process.Signal(syscall.SIGCONT)
		_ = sleep.Process.Kill()
		_ = sleep.Wait()
	})
	pidMax, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	beyond, _ := strconv.Atoi(strings.TrimSpace(string(pidMax)))
	tests := []struct {
		name   string
		pid    int
		failed string // the check that must fail; "" if none may
	}{
		{"attachable CPython 3.11", good.PID, ""},
		{"CPython 3.7", old.PID, "python"},
		{"sleep", sleep.Process.Pid, "python"},
		{"no such process", beyond + 1, "process"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := runDoctor([]string{"--json", strconv.Itoa(tt.pid)}, nil, &out, io.Discard)
		var r diag.Report
		if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
			t.Fatalf("%s: doctor --json printed %q: %v", tt.name, out.Bytes(), jerr)
		}
		var failed, details []string
		for _, c := range r.Checks {
			if c.Status == diag.Fail {
				failed = append(failed, c.Name)
				details = append(details, c.Detail)
			}
		}
		switch {
		case tt.failed == "" && (err != nil || len(failed) > 0):
			t.Errorf("%s: doctor = %v, failed checks %q %q; want success", tt.name, err, failed, details)
		case tt.failed != "" && (err == nil || len(failed) != 1 || failed[0] != tt.failed):
			t.Errorf("%s: doctor = %v, failed checks %q %q; want an error and the %s check failed", tt.name, err, failed, details, tt.failed)
		}
	}
}

func TestDoctorText(t *testing.T) {
	var out bytes.Buffer
	if err := runDoctor(nil, nil, &out, io.Discard); err != nil {
		t.Fatalf("doctor without a PID: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ok    gdb ") || !strings.HasSuffix(out.String(), ".\n") {
		t.Errorf("doctor printed:\n%s", out.String())
	}
}

func TestParseDoctorArgs(t *testing.T) {
	tests := []struct {
		args    []string
		pid     int
		json    bool
		wantErr bool
	}{
		{nil, 0, false, false},
		{[]string{"42"}, 42, false, false},
		{[]string{"--json", "42"}, 42, true, false},
		{[]string{"42", "--json"}, 42, true, false},
		{[]string{"--json"}, 0, true, false},
		{[]string{"abc"}, 0, false, true},
		{[]string{"0"}, 0, false, true},
		{[]string{"-5"}, 0, false, true},
		{[]string{"42", "43"}, 0, false, true},
		{[]string{"--bogus"}, 0, false, true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		asJSON := fs.Bool("json", false, "")
		pid, err := parseDoctorArgs(fs, tt.args)
		if (err != nil) != tt.wantErr || err == nil && (pid != tt.pid || *asJSON != tt.json) {
			t.Errorf("parseDoctorArgs(%q) = %d, json %v, %v; want %d, json %v, error %v", tt.args, pid, *asJSON, err, tt.pid, tt.json, tt.wantErr)
		}
	}
}
