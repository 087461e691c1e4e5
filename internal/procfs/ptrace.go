package procfs

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// The causes a PtraceDenied can report.
const (
	CauseAlreadyTraced  = "already-traced"    // another tracer (debugger, strace) is attached
	CauseYamaScope1     = "yama-scope-1"      // Yama allows only ancestors to trace
	CauseYamaScope2     = "yama-scope-2"      // Yama allows only CAP_SYS_PTRACE to trace
	CauseYamaScope3     = "yama-scope-3"      // Yama forbids ptrace altogether
	CauseOtherUser      = "other-user"        // the target's uids differ from ours
	CauseOtherGroup     = "other-group"       // the target's gids differ from ours
	CauseNotDumpable    = "not-dumpable"      // the target is marked not dumpable
	CauseNoCapSysPtrace = "no-cap-sys-ptrace" // the target holds capabilities we lack
)

// PtraceDenied explains why the kernel would refuse to let us ptrace-attach a process.
type PtraceDenied struct {
	Cause  string // machine-readable: one of the Cause constants
	Detail string // one sentence: what exactly forbids it
	Remedy string // one sentence: what the user can do
}

// Error returns the cause and the detail; the remedy is for the caller to show.
func (e *PtraceDenied) Error() string {
	return "ptrace denied (" + e.Cause + "): " + e.Detail
}

// capSysPtrace is the bit of CAP_SYS_PTRACE in capability masks.
const capSysPtrace = 19

// CheckPtrace predicts whether the debugger that we start, which has our
// credentials, may ptrace-attach p. It returns nil if so, a *PtraceDenied if
// not, and an error wrapping ErrNoProcess if p is gone or its PID was reused.
//
// It replays the kernel's checks (kernel/ptrace.c, the capability and Yama
// security modules) on what /proc shows. It judges permission only: the
// caller refuses zombies by p.State. A target in a user namespace below
// ours that our user created (a rootless container's) may be traced as if
// we had CAP_SYS_PTRACE, which we have there; other security modules
// (SELinux, AppArmor) and a PR_SET_PTRACER exception cannot be seen.
func CheckPtrace(p *Process) error {
	target, st, err := read(p.PID)
	if err != nil {
		return err
	}
	if target.StartTime != p.StartTime {
		return fmt.Errorf("process %d was replaced by another with its pid: %w", p.PID, ErrNoProcess)
	}
	self, err := readStatus("/proc/self/status")
	if err != nil {
		return fmt.Errorf("read own credentials: %w", err)
	}
	facts := ptraceFacts{
		pid:          p.PID,
		capSysPtrace: self.hasCapSysPtrace(),
		ownsUserNS:   ownsUserNamespace(p.PID, os.Geteuid()),
		callerUID:    os.Getuid(),
		callerGID:    os.Getgid(),
		callerCaps:   self.capPrm,
		targetUIDs:   [3]int(st.uids[:3]),
		targetGIDs:   [3]int(st.gids[:3]),
		targetCaps:   st.capPrm,
		// Files of a non-dumpable process are owned by root; a root process
		// or a zombie (also root-owned) cannot be judged and counts as dumpable.
		dumpable:  st.owner == st.uids[1] || target.State == StateZombie,
		userName:  userName,
		groupName: groupName,
	}
	facts.tracer, facts.tracerName = tracer(target)
	facts.yamaScope, facts.yama = YamaPtraceScope()
	if denied := decidePtrace(facts); denied != nil {
		return denied
	}
	return nil
}

// tracer returns the PID and name of a process tracing p or one of its
// threads, or 0.
func tracer(p *Process) (int, string) {
	pid := p.TracerPID
	if pid == 0 {
		pid = threadTracer(p)
	}
	if pid == 0 {
		return 0, ""
	}
	st, err := readStat(pid)
	if err != nil {
		return pid, ""
	}
	return pid, st.comm
}

// threadTracer returns the tracer of any of p's threads, or 0: strace -p and
// friends can attach to single threads, and gdb would fail on them.
func threadTracer(p *Process) int {
	tids, _ := p.TIDs() // a process gone meanwhile has no tracer
	for _, tid := range tids {
		st, err := readStatus(procPath(p.PID, "task/"+strconv.Itoa(tid)+"/status"))
		if err == nil && st.tracerPID != 0 {
			return st.tracerPID
		}
	}
	return 0
}

// YamaPtraceScope returns kernel.yama.ptrace_scope, and false if the Yama
// security module is absent (then only the classic uid and capability rules apply).
func YamaPtraceScope() (int, bool) {
	data, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	if err != nil {
		return 0, false
	}
	scope, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return scope, err == nil
}

// HasCapSysPtrace reports whether this process has CAP_SYS_PTRACE in its effective set.
func HasCapSysPtrace() bool {
	self, err := readStatus("/proc/self/status")
	return err == nil && self.hasCapSysPtrace()
}

func (s *status) hasCapSysPtrace() bool {
	return s.capEff&(1<<capSysPtrace) != 0
}

// ptraceFacts is everything the kernel's attach check looks at, gathered
// from /proc so that decidePtrace can be a pure function.
type ptraceFacts struct {
	pid                    int
	yama                   bool // the Yama module is present
	yamaScope              int
	capSysPtrace           bool // we have CAP_SYS_PTRACE
	ownsUserNS             bool // the target's user namespace is below ours and ours (see ownsUserNamespace)
	callerUID, callerGID   int  // our real ids: PTRACE_ATTACH checks the real, not the effective, ids
	callerCaps             uint64
	targetUIDs, targetGIDs [3]int // real, effective, saved
	targetCaps             uint64 // permitted capabilities
	dumpable               bool
	tracer                 int
	tracerName             string
	userName, groupName    func(id int) string // "" when unknown
}

// idKinds names the entries of ptraceFacts.targetUIDs and targetGIDs.
var idKinds = [3]string{"real", "effective", "saved"}

// decidePtrace applies the kernel's rules in the order that makes the first
// reported cause one whose remedy is needed in any case: a tracer must go
// whoever we are, Yama 3 and 2 overrule the classic rules, and CAP_SYS_PTRACE
// lifts all the rest.
func decidePtrace(f ptraceFacts) *PtraceDenied {
	switch {
	case f.tracer != 0:
		return alreadyTraced(f)
	case f.yama && f.yamaScope == 3:
		return &PtraceDenied{CauseYamaScope3,
			"kernel.yama.ptrace_scope is 3: ptrace is disabled for every process, root included",
			"the setting cannot be lowered until reboot: set kernel.yama.ptrace_scope to 0 or 1 in /etc/sysctl.d and reboot"}
	case f.yama && f.yamaScope == 2 && !f.capSysPtrace:
		return &PtraceDenied{CauseYamaScope2,
			"kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may ptrace, and pyattach lacks it",
			"run pyattach as root (sudo), or run `sudo sysctl kernel.yama.ptrace_scope=0`"}
	case f.capSysPtrace, f.ownsUserNS:
		return nil
	}
	if i := mismatch(f.targetUIDs, f.callerUID); i >= 0 {
		return otherUser(f, i)
	}
	if i := mismatch(f.targetGIDs, f.callerGID); i >= 0 {
		return &PtraceDenied{CauseOtherGroup,
			fmt.Sprintf("process %d has %s gid %s but pyattach's real gid is %s, and without CAP_SYS_PTRACE the target's real, effective and saved gids must all equal it",
				f.pid, idKinds[i], describeID(f.groupName, f.targetGIDs[i]), describeID(f.groupName, f.callerGID)),
			"run pyattach as root (sudo)"}
	}
	if !f.dumpable {
		return &PtraceDenied{CauseNotDumpable,
			fmt.Sprintf("process %d is not dumpable (it changed credentials, as setuid and setgid programs do, or called prctl(PR_SET_DUMPABLE, 0)), and only CAP_SYS_PTRACE overrides that", f.pid),
			"run pyattach as root (sudo)"}
	}
	if extra := f.targetCaps &^ f.callerCaps; extra != 0 {
		return &PtraceDenied{CauseNoCapSysPtrace,
			fmt.Sprintf("process %d holds capabilities that pyattach lacks (%s), and tracing a more privileged process needs CAP_SYS_PTRACE", f.pid, capNames(extra)),
			"run pyattach as root (sudo)"}
	}
	if f.yama && f.yamaScope == 1 {
		return &PtraceDenied{CauseYamaScope1,
			fmt.Sprintf("kernel.yama.ptrace_scope is 1: only a parent process may ptrace its descendants, and process %d is not a descendant of pyattach's debugger (unless it allowed one with prctl(PR_SET_PTRACER), which /proc does not show)", f.pid),
			"run `sudo sysctl kernel.yama.ptrace_scope=0`, or run pyattach as root / with CAP_SYS_PTRACE"}
	}
	return nil
}

func alreadyTraced(f ptraceFacts) *PtraceDenied {
	who := fmt.Sprintf("process %d", f.tracer)
	if f.tracerName != "" {
		who = fmt.Sprintf("%s (pid %d)", f.tracerName, f.tracer)
	}
	return &PtraceDenied{CauseAlreadyTraced,
		fmt.Sprintf("process %d is already traced by %s, and a process can have only one tracer", f.pid, who),
		fmt.Sprintf("detach or stop %s, then try again", who)}
}

func otherUser(f ptraceFacts, i int) *PtraceDenied {
	target := f.targetUIDs[i]
	d := &PtraceDenied{Cause: CauseOtherUser,
		Detail: fmt.Sprintf("process %d has %s uid %s but pyattach's real uid is %s, and without CAP_SYS_PTRACE the target's real, effective and saved uids must all equal it",
			f.pid, idKinds[i], describeID(f.userName, target), describeID(f.userName, f.callerUID)),
		Remedy: "run pyattach as root (sudo)",
	}
	if f.targetUIDs == [3]int{target, target, target} {
		name := f.userName(target)
		if name == "" {
			name = "#" + strconv.Itoa(target)
		}
		d.Remedy = fmt.Sprintf("run pyattach as %s (sudo -u %s) or as root", name, name)
	}
	return d
}

// mismatch returns the index of the first of ids that differs from id, or -1.
func mismatch(ids [3]int, id int) int {
	for i, v := range ids {
		if v != id {
			return i
		}
	}
	return -1
}

// describeID formats an id as "1000 (alice)", or "1000" if it has no name.
func describeID(name func(int) string, id int) string {
	if n := name(id); n != "" {
		return fmt.Sprintf("%d (%s)", id, n)
	}
	return strconv.Itoa(id)
}

func userName(uid int) string {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return ""
	}
	return u.Username
}

func groupName(gid int) string {
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		return ""
	}
	return g.Name
}

// capabilityNames lists the capabilities by bit number (capability.h).
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// capNames formats a capability mask as "CAP_NET_ADMIN, CAP_NET_RAW".
func capNames(mask uint64) string {
	var names []string
	for bit := range 64 {
		if mask&(1<<bit) == 0 {
			continue
		}
		if bit < len(capabilityNames) {
			names = append(names, capabilityNames[bit])
		} else {
			names = append(names, fmt.Sprintf("capability %d", bit))
		}
	}
	return strings.Join(names, ", ")
}
