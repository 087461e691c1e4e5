package diag

import (
	"context"
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/cpuinfo"
	"github.com/pyattach/pyattach/internal/testgdb"
)

func TestParseGDBVersion(t *testing.T) {
	tests := []struct {
		banner string
		want   [2]int
		ok     bool
	}{
		{"GNU gdb (Debian 13.1-3) 13.1", [2]int{13, 1}, true},
		{"GNU gdb (Ubuntu 12.1-0ubuntu1~22.04) 12.1", [2]int{12, 1}, true},
		{"GNU gdb (GDB) Red Hat Enterprise Linux 8.2-19.el8", [2]int{8, 2}, true},
		{"GNU gdb (GDB) 14.0.50.20230906-git", [2]int{14, 0}, true},
		{"GNU gdb (GDB; openSUSE Tumbleweed) 7.12", [2]int{7, 12}, true},
		{"GNU gdb (GDB)", [2]int{}, false},
	}
	for _, tt := range tests {
		got, ok := parseGDBVersion(tt.banner)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseGDBVersion(%q) = %v, %v; want %v, %v", tt.banner, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckYama(t *testing.T) {
	tests := []struct {
		scope            int
		present, capable bool
		status           Status
		mention          string
	}{
		{0, false, false, OK, "not active"},
		{0, true, false, OK, "is 0"},
		{1, true, false, Fail, "ptrace_scope=0"},
		{1, true, true, OK, "CAP_SYS_PTRACE"},
		{2, true, false, Fail, "as root"},
		{2, true, true, OK, "CAP_SYS_PTRACE"},
		{3, true, true, Fail, "reboot"},
	}
	for _, tt := range tests {
		c := checkYama(tt.scope, tt.present, tt.capable)
		if c.Status != tt.status || !strings.Contains(c.Detail+" "+c.Remedy, tt.mention) {
			t.Errorf("checkYama(%d, %v, %v) = %+v; want %s mentioning %q", tt.scope, tt.present, tt.capable, c, tt.status, tt.mention)
		}
		if c.Status == Fail && (c.Code != attacherr.PtraceDenied || c.Remedy == "") {
			t.Errorf("checkYama(%d, %v, %v) = %+v; want code %d and a remedy", tt.scope, tt.present, tt.capable, c, attacherr.PtraceDenied)
		}
	}
}

func TestCheckCapability(t *testing.T) {
	tests := []struct {
		capable   bool
		euid      int
		container string
		status    Status
		mention   string
	}{
		{true, 0, "", OK, "other users"},
		{false, 0, "docker", Warn, "--cap-add=SYS_PTRACE"},
		{false, 0, "", Warn, "sudo"},
		{false, 65534, "", OK, "65534"},
	}
	for _, tt := range tests {
		c := checkCapability(tt.capable, tt.euid, tt.container)
		if c.Status != tt.status || !strings.Contains(c.Detail+" "+c.Remedy, tt.mention) {
			t.Errorf("checkCapability(%v, %d, %q) = %+v; want %s mentioning %q", tt.capable, tt.euid, tt.container, c, tt.status, tt.mention)
		}
	}
}

func TestCheckGDB(t *testing.T) {
	tests := []struct {
		name   string
		gdb    string
		status Status
		code   attacherr.Code
	}{
		{"missing", "/nonexistent/gdb", Fail, attacherr.GDBMissing},
		{"not gdb", "/bin/false", Fail, attacherr.GDBFailed},
	}
	for _, tt := range tests {
		checks := checkGDB(context.Background(), DoctorOptions{GDB: tt.gdb})
		if len(checks) != 1 || checks[0].Status != tt.status || checks[0].Code != tt.code || checks[0].Remedy == "" {
			t.Errorf("%s: checkGDB = %+v, want one %s check with code %d and a remedy", tt.name, checks, tt.status, tt.code)
		}
	}
}

func TestCheckGDBInstalled(t *testing.T) {
	path, err := findGDB("")
	if err != nil {
		t.Skip("no gdb on PATH")
	}
	checks := checkGDB(context.Background(), DoctorOptions{})
	if len(checks) != 2 || checks[0].Status != OK || checks[1].Status != OK || !strings.Contains(checks[0].Detail, path) {
		t.Errorf("checkGDB with %s = %+v, want gdb and gdb-mi ok", path, checks)
	}
}

func TestPtracePolicyHere(t *testing.T) {
	for _, c := range checkPtracePolicy() {
		if c.Detail == "" || c.Status == Fail && c.Remedy == "" {
			t.Errorf("check %+v: want a detail, and a remedy if it failed", c)
		}
		if c.Name == "ptrace-syscall" && c.Status != OK {
			t.Errorf("tracing a child of our own: %+v", c)
		}
	}
}

// TestCheckGDBCalls runs the check with this machine's gdb, whose verdict
// depends on the CPU, and with a gdb that answers as gdb 13 does on a CPU
// with Intel AMX.
func TestCheckGDBCalls(t *testing.T) {
	cpu := cpuinfo.Local()
	c := checkGDBCalls(context.Background(), DoctorOptions{})
	t.Logf("this machine (%s, AMX %t): %s %s", cpu.Model, cpu.HasAMX(), c.Status, c.Detail)
	if want := map[bool]Status{true: Warn, false: OK}[cpu.HasAMX()]; c.Status != want {
		t.Errorf("status %s, want %s on this CPU", c.Status, want)
	}
	faultgdb, err := testgdb.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gdb := testgdb.Wrap(t, faultgdb, testgdb.Fault{Mode: "xstate"})
	c = checkGDBCalls(context.Background(), DoctorOptions{GDB: gdb})
	if c.Status != Warn || !strings.Contains(c.Detail, "4006") || c.Remedy == "" {
		t.Errorf("with the simulated gdb: %+v; want a warning naming error 4006, with a remedy", c)
	}
}
