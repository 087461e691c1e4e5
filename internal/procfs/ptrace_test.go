package procfs

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"
)

func TestDecidePtrace(t *testing.T) {
	names := map[int]string{0: "root", 1000: "alice", 1001: "bob", 100: "users"}
	name := func(id int) string { return names[id] }
	// alice, without capabilities, attaching to her own plain process, no Yama.
	base := ptraceFacts{pid: 42, callerUID: 1000, callerGID: 100, targetUIDs: [3]int{1000, 1000, 1000},
		targetGIDs: [3]int{100, 100, 100}, dumpable: true, userName: name, groupName: name}
	tests := []struct {
		name   string
		change func(*ptraceFacts)
		cause  string // "" means allowed
		detail string // a part of the detail or remedy that must be there
	}{
		{"own process", func(*ptraceFacts) {}, "", ""},
		{"yama 0", func(f *ptraceFacts) { f.yama, f.yamaScope = true, 0 }, "", ""},
		{"traced", func(f *ptraceFacts) { f.tracer, f.tracerName = 77, "strace" }, CauseAlreadyTraced, "strace (pid 77)"},
		{"traced by an unreadable process", func(f *ptraceFacts) { f.tracer = 77 }, CauseAlreadyTraced, "process 77"},
		{"traced, even with the capability", func(f *ptraceFacts) { f.tracer, f.capSysPtrace = 77, true }, CauseAlreadyTraced, ""},
		{"yama 3", func(f *ptraceFacts) { f.yama, f.yamaScope = true, 3 }, CauseYamaScope3, "reboot"},
		{"yama 3, even with the capability", func(f *ptraceFacts) { f.yama, f.yamaScope, f.capSysPtrace = true, 3, true }, CauseYamaScope3, ""},
		{"yama 2", func(f *ptraceFacts) { f.yama, f.yamaScope = true, 2 }, CauseYamaScope2, "CAP_SYS_PTRACE"},
		{"yama 2 with the capability", func(f *ptraceFacts) { f.yama, f.yamaScope, f.capSysPtrace = true, 2, true }, "", ""},
		{"yama 2 before other user", func(f *ptraceFacts) { f.yama, f.yamaScope, f.targetUIDs = true, 2, [3]int{0, 0, 0} }, CauseYamaScope2, ""},
		{"yama 1", func(f *ptraceFacts) { f.yama, f.yamaScope = true, 1 }, CauseYamaScope1, "PR_SET_PTRACER"},
		{"yama 1 with the capability", func(f *ptraceFacts) { f.yama, f.yamaScope, f.capSysPtrace = true, 1, true }, "", ""},
		{"other user", func(f *ptraceFacts) { f.targetUIDs = [3]int{1001, 1001, 1001} }, CauseOtherUser, "sudo -u bob"},
		{"other user without a name", func(f *ptraceFacts) { f.targetUIDs = [3]int{5000, 5000, 5000} }, CauseOtherUser, "sudo -u #5000"},
		{"other user, named", func(f *ptraceFacts) { f.targetUIDs = [3]int{0, 0, 0} }, CauseOtherUser, "real uid 0 (root) but pyattach's real uid is 1000 (alice)"},
		{"setuid program", func(f *ptraceFacts) { f.targetUIDs = [3]int{1000, 0, 0} }, CauseOtherUser, "effective uid 0 (root)"},
		{"saved uid differs", func(f *ptraceFacts) { f.targetUIDs = [3]int{1000, 1000, 0} }, CauseOtherUser, "saved uid"},
		{"other user as root with the capability", func(f *ptraceFacts) { f.callerUID, f.capSysPtrace = 0, true }, "", ""},
		{"other user before yama 1", func(f *ptraceFacts) { f.yama, f.yamaScope, f.targetUIDs = true, 1, [3]int{0, 0, 0} }, CauseOtherUser, ""},
		{"setgid program", func(f *ptraceFacts) { f.targetGIDs = [3]int{100, 5, 5} }, CauseOtherGroup, "effective gid 5"},
		{"not dumpable", func(f *ptraceFacts) { f.dumpable = false }, CauseNotDumpable, "PR_SET_DUMPABLE"},
		{"not dumpable with the capability", func(f *ptraceFacts) { f.dumpable, f.capSysPtrace = false, true }, "", ""},
		{"more capabilities", func(f *ptraceFacts) { f.targetCaps = 1<<10 | 1<<13 }, CauseNoCapSysPtrace, "CAP_NET_BIND_SERVICE, CAP_NET_RAW"},
		{"capabilities we also hold", func(f *ptraceFacts) { f.targetCaps, f.callerCaps = 1<<10, 1<<10|1<<12 }, "", ""},
	}
	for _, tt := range tests {
		f := base
		tt.change(&f)
		got := decidePtrace(f)
		switch {
		case tt.cause == "" && got != nil:
			t.Errorf("%s: denied %+v, want allowed", tt.name, got)
		case tt.cause == "":
		case got == nil || got.Cause != tt.cause:
			t.Errorf("%s: got %+v, want cause %s", tt.name, got, tt.cause)
		case got.Detail == "" || got.Remedy == "" || !strings.Contains(got.Detail+" "+got.Remedy, tt.detail):
			t.Errorf("%s: got %+v, want a detail and remedy mentioning %q", tt.name, got, tt.detail)
		}
	}
}

func TestPtraceDeniedError(t *testing.T) {
	var err error = &PtraceDenied{Cause: CauseOtherUser, Detail: "process 1 has real uid 0", Remedy: "run as root"}
	var denied *PtraceDenied
	if !errors.As(err, &denied) || err.Error() != "ptrace denied (other-user): process 1 has real uid 0" {
		t.Errorf("Error() = %q", err)
	}
}

func TestCapNames(t *testing.T) {
	tests := []struct {
		mask uint64
		want string
	}{
		{0, ""},
		{1 << capSysPtrace, "CAP_SYS_PTRACE"},
		{1 | 1<<40 | 1<<41, "CAP_CHOWN, CAP_CHECKPOINT_RESTORE, capability 41"},
	}
	for _, tt := range tests {
		if got := capNames(tt.mask); got != tt.want {
			t.Errorf("capNames(%#x) = %q, want %q", tt.mask, got, tt.want)
		}
	}
}

func TestYamaAndCapability(t *testing.T) {
	_, statErr := os.Stat("/proc/sys/kernel/yama/ptrace_scope")
	if _, ok := YamaPtraceScope(); ok != (statErr == nil) {
		t.Errorf("YamaPtraceScope() present = %v, but stat says %v", ok, statErr)
	}
	self, err := readStatus("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if HasCapSysPtrace() != (self.capEff&(1<<19) != 0) {
		t.Errorf("HasCapSysPtrace() = %v, CapEff = %#x", HasCapSysPtrace(), self.capEff)
	}
}

// TestAlreadyTraced makes a helper ptrace a process and checks that the
// check names the helper, and that the kernel agrees.
func TestAlreadyTraced(t *testing.T) {
	if !HasCapSysPtrace() {
		t.Skip("needs CAP_SYS_PTRACE to set up a tracer")
	}
	target := testproc.Start(t, exec.Command("sleep", "600"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tracer, _ := testproc.StartReady(t, helperCommand(self, "trace", target))
	p := mustRead(t, target)
	if p.TracerPID != tracer {
		t.Fatalf("TracerPID = %d, want the helper %d", p.TracerPID, tracer)
	}
	var denied *PtraceDenied
	if err := CheckPtrace(p); !errors.As(err, &denied) || denied.Cause != CauseAlreadyTraced ||
		!strings.Contains(denied.Detail, "procfs.test (pid "+strconv.Itoa(tracer)+")") {
		t.Errorf("CheckPtrace() = %v; want already-traced naming procfs.test (pid %d)", err, tracer)
	}
	if got := runCheck(t, self, nil, target); got.AttachErr == "" {
		t.Errorf("the kernel let a second tracer attach; check said %+v", got)
	}
}

// TestPtraceAsOtherUser runs the check, and a real PTRACE_ATTACH, as an
// unprivileged user against targets it may or may not trace.
func TestPtraceAsOtherUser(t *testing.T) {
	cred := testproc.User(t, "pyattach-test")
	bin := testproc.PublicTestBinary(t)
	asUser := func(cmd *exec.Cmd, ambient ...uintptr) *exec.Cmd {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, AmbientCaps: ambient}
		return cmd
	}
	tests := []struct {
		name   string
		target func(t *testing.T) int
		cause  string
	}{
		{"own process", func(t *testing.T) int { return testproc.Start(t, asUser(exec.Command("sleep", "600"))) }, ""},
		{"root's process", func(t *testing.T) int { return testproc.Start(t, exec.Command("sleep", "600")) }, CauseOtherUser},
		{"not dumpable", func(t *testing.T) int {
			pid, _ := testproc.StartReady(t, asUser(helperCommand(bin, "nodump", 0)))
			return pid
		}, CauseNotDumpable},
		{"more capabilities", func(t *testing.T) int {
			const capNetBindService = 10
			pid := testproc.Start(t, asUser(exec.Command("sleep", "600"), capNetBindService))
			testproc.WaitUntil(t, "sleep runs with its capability", func() bool {
				st, err := readStatus(procPath(pid, "status"))
				return err == nil && st.capPrm == 1<<capNetBindService && len(mustRead(t, pid).Cmdline) > 0
			})
			return pid
		}, CauseNoCapSysPtrace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCheck(t, bin, cred, tt.target(t))
			if got.Cause != tt.cause {
				t.Errorf("CheckPtrace as %s: cause %q (%s), want %q", "pyattach-test", got.Cause, got.Err, tt.cause)
			}
			if kernelAllowed := got.AttachErr == ""; kernelAllowed != (tt.cause == "") {
				t.Errorf("the kernel's PTRACE_ATTACH said %q; check said %+v", got.AttachErr, got)
			}
			// Reading maps needs what ptrace needs, bar Yama.
			if got.DetectDenied != (tt.cause != "") {
				t.Errorf("DetectPython denied = %v; want it denied iff ptrace is", got.DetectDenied)
			}
		})
	}
}

// runCheck runs checkHelper from the test binary bin, as cred if not nil, on pid.
func runCheck(t *testing.T, bin string, cred *syscall.Credential, pid int) checkResult {
	t.Helper()
	cmd := helperCommand(bin, "check", pid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check helper: %v", err)
	}
	var res checkResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("check helper said %q: %v", out, err)
	}
	return res
}
