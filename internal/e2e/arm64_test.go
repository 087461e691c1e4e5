//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/armvm"
	"github.com/pyattach/pyattach/internal/headless"
)

// The arm64 tests run pyattach as released for arm64 inside an emulated
// Debian arm64 machine (package armvm), on Debian's python3 (the gdb path,
// with the aarch64 trampoline) and forky's python3.14 (PEP 768). They drive
// DAP from inside the machine with `pyattach debug PID --break ... --json`,
// pyattach's own headless client: the editor side of DAP is then the same
// arm64 binary, the machine needs no port forwarded but SSH's, and each
// attach is one command whose JSON report holds the stops, stacks,
// variables and evaluations. Emulation (TCG) makes everything 10-30 times
// slower than on hardware, so each attach gets generous waits, and the
// figures printed are the emulator's, not arm64 hardware's.

// arm64Target is the program attached to: tick runs every 50 ms and
// counts its calls into a file (replaced whole, never seen empty), so a
// test can see it still runs.
const arm64Target = `import os, sys, time

def tick(i):
    global written
    value = i * 7  # BREAK
    if not busy or time.monotonic() - written > 0.5:
        written = time.monotonic()
        with open(sys.argv[1] + ".new", "w") as f:
            f.write(str(i))
        os.replace(sys.argv[1] + ".new", sys.argv[1])
    return value

# A busy target never sleeps and writes twice a second (time.monotonic
# makes no system call): its main thread is nearly always running Python,
# holding the GIL.
busy = sys.argv[2:] == ["busy"]
written = 0
i = 0
while True:
    i += 1
    tick(i)
    if not busy:
        time.sleep(0.05)
`

// arm64Budget bounds the whole arm64 part of the suite (boot included).
const arm64Budget = 18 * time.Minute

func TestArm64VM(t *testing.T) {
	dir, err := armvm.ImageDir()
	if errors.Is(err, armvm.ErrNotBuilt) {
		t.Skipf("arm64 tests skipped: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), arm64Budget)
	defer cancel()
	began := time.Now()
	vm := bootArm64(ctx, t, dir, armvm.CPUMax)
	debian := arm64Python{label: "Debian arm64 python3 (gdb)", command: "python3", gdbPath: true}
	for _, py := range []arm64Python{debian, {label: "forky arm64 python3.14 (PEP 768)", command: "chroot /srv/forky python3.14"}} {
		t.Run(py.label, func(t *testing.T) { testArm64Python(ctx, t, vm, py) })
	}
	vm.Close() // the second machine needs the CPUs
	// Without SVE the trampoline also serves a main thread stopped in
	// Python code: the busy target's pending call goes through pendingFn.
	t.Run("Debian arm64 python3 (gdb), CPU without SVE", func(t *testing.T) {
		vm := bootArm64(ctx, t, dir, armvm.CPUMaxNoSVE)
		attachBusy(ctx, t, vm, debian)
	})
	t.Logf("arm64: the emulated machine's part took %s", time.Since(began).Round(time.Second))
}

// bootArm64 boots the machine on cpu and puts pyattach, its debugpy and
// the target's script into it.
func bootArm64(ctx context.Context, t *testing.T, dir string, cpu armvm.CPU) *armvm.VM {
	vm, err := armvm.Boot(ctx, dir, cpu)
	if err != nil {
		t.Fatal(err)
	}
	// Before the targets' cleanups, so after them: they stop the targets
	// through the machine.
	t.Cleanup(func() { vm.Close() })
	t.Logf("arm64: booted %s on -cpu %s in %s (emulated)", armvm.Description(dir), cpu, vm.Boot.Round(time.Second))
	if err := vm.Provision(ctx, "../.."); err != nil {
		t.Fatal(err)
	}
	t.Logf("arm64: pyattach in the machine: %s", vm.Pyattach)
	if _, err := vm.Run(ctx, "cat > /tmp/arm64_target.py <<'EOF'\n"+arm64Target+"EOF"); err != nil {
		t.Fatal(err)
	}
	return vm
}

type arm64Python struct {
	label   string
	command string // runs the interpreter, in the machine's shell
	gdbPath bool   // attached with gdb (else PEP 768)
}

func testArm64Python(ctx context.Context, t *testing.T, vm *armvm.VM, py arm64Python) {
	target := startArm64Target(ctx, t, vm, py, "idle")
	line := strings.Count(arm64Target[:strings.Index(arm64Target, "# BREAK")], "\n") + 1
	for attach := 1; attach <= 2; attach++ {
		report, latency := debugInVM(ctx, t, vm, target.pid, line)
		checkArm64Stop(t, report, line)
		t.Logf("arm64 %s, attach %d: %s; attach latency %s (emulated)", py.label, attach, lastNarration(report), latency)
		target.expectRunning(ctx, t, vm)
	}
	recordInterpreter("arm64 " + py.label)
	if !py.gdbPath {
		return
	}
	killGDBMidAttach(ctx, t, vm, target, line)
	// On this SVE CPU, a main thread stopped in Python code is left to
	// gdb's calls (see internal/inject).
	attachBusy(ctx, t, vm, py)
}

// attachBusy attaches once to a target whose main thread holds the GIL: it
// gets a pending call.
func attachBusy(ctx context.Context, t *testing.T, vm *armvm.VM, py arm64Python) {
	line := strings.Count(arm64Target[:strings.Index(arm64Target, "# BREAK")], "\n") + 1
	busy := startArm64Target(ctx, t, vm, py, "busy")
	report, latency := debugInVM(ctx, t, vm, busy.pid, line)
	checkArm64Stop(t, report, line)
	t.Logf("arm64 %s, busy target: %s; attach latency %s (emulated)", py.label, lastNarration(report), latency)
	// The GIL decides at the instant the stub runs; a busy target is very
	// seldom caught without it (in its twice-a-second write).
	if !strings.Contains(lastNarration(report), "strategy pending-call") {
		t.Logf("the busy target was caught outside Python this time (a direct call): %s", lastNarration(report))
	}
	busy.expectRunning(ctx, t, vm)
}

// vmTarget is a target running in the machine.
type vmTarget struct {
	pid      int
	progress string // the file it counts its ticks in
}

// startArm64Target starts the target in the machine (mode "idle" or
// "busy"), detached from the SSH session; it is stopped by its PID at the
// end.
func startArm64Target(ctx context.Context, t *testing.T, vm *armvm.VM, py arm64Python, mode string) vmTarget {
	progress := "/tmp/arm64_progress_" + mode
	out, err := vm.Run(ctx, fmt.Sprintf("setsid %s /tmp/arm64_target.py %s %s </dev/null >/tmp/arm64_target_%s.log 2>&1 & echo $!", py.command, progress, mode, mode))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("target PID %q: %v", out, err)
	}
	t.Cleanup(func() {
		if _, err := vm.Run(context.Background(), fmt.Sprintf("kill -9 %d", pid)); err != nil {
			t.Errorf("stopping the target: %v", err)
		}
	})
	target := vmTarget{pid: pid, progress: progress}
	target.expectRunning(ctx, t, vm)
	return target
}

// debugInVM runs one headless session in the machine and returns its
// report and the attach latency pyattach logged (start to debugpy's
// connection).
func debugInVM(ctx context.Context, t *testing.T, vm *armvm.VM, pid, line int) (headless.Report, string) {
	t.Helper()
	cmd := fmt.Sprintf("%s debug %d --break /tmp/arm64_target.py:%d --eval 'i * 2' --json --wait 3m --timeout 3m --log /tmp/pyattach.log",
		armvm.PyattachPath, pid, line)
	out, err := vm.Run(ctx, fmt.Sprintf("PYATTACH_DEBUGPY_DIR=%s %s", armvm.DebugpyDir, cmd))
	var report headless.Report
	if jerr := json.Unmarshal([]byte(out), &report); err != nil || jerr != nil {
		log, _ := vm.Run(ctx, "tail -n 40 /tmp/pyattach.log")
		t.Fatalf("pyattach debug in the arm64 VM: %v %v\n%s\nlog:\n%s", err, jerr, out, log)
	}
	log, _ := vm.Run(ctx, "grep 'msg=attached' /tmp/pyattach.log | tail -n 1")
	latency := "?"
	if m := regexp.MustCompile(`elapsed=(\S+)`).FindStringSubmatch(log); m != nil {
		latency = m[1]
	}
	return report, latency
}

func lastNarration(r headless.Report) string {
	for i := len(r.Narration) - 1; i >= 0; i-- {
		if strings.HasPrefix(r.Narration[i], "attached to process") {
			return r.Narration[i]
		}
	}
	return strings.Join(r.Narration, "; ")
}

// checkArm64Stop checks one stop: breakpoint, stack, variables, evaluate,
// detach.
func checkArm64Stop(t *testing.T, r headless.Report, line int) {
	t.Helper()
	if len(r.Stops) != 1 || !r.Detached {
		t.Fatalf("report = %+v; want one stop and a detach", r)
	}
	stop := r.Stops[0]
	if len(stop.Frames) < 2 || stop.Frames[0].Name != "tick" || stop.Frames[0].Line != line || stop.Reason != "breakpoint" {
		t.Fatalf("stopped at %+v (%s); want tick:%d called from the module", stop.Frames, stop.Reason, line)
	}
	var i int
	for _, v := range stop.Locals {
		if v.Name == "i" {
			i, _ = strconv.Atoi(v.Value)
		}
	}
	if i == 0 {
		t.Fatalf("locals = %+v; want i", stop.Locals)
	}
	if len(stop.Evaluations) != 1 || stop.Evaluations[0].Result != strconv.Itoa(2*i) {
		t.Errorf("evaluations = %+v; want i * 2 = %d", stop.Evaluations, 2*i)
	}
}

// expectRunning checks that the target is neither stopped nor traced and
// still makes progress.
func (target vmTarget) expectRunning(ctx context.Context, t *testing.T, vm *armvm.VM) {
	t.Helper()
	script := fmt.Sprintf(`for n in $(seq 1 600); do [ -s %[1]s ] && break; sleep 0.1; done
a=$(cat %[1]s); sleep 2; b=$(cat %[1]s)
grep -E '^(State|TracerPid):' /proc/%[2]d/status | tr -s '\t ' ' ' | tr '\n' ' '; echo "$a $b"`, target.progress, target.pid)
	out, err := vm.Run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out)
	// State: S (sleeping) TracerPid: 0 A B
	if len(f) < 7 || f[1] == "T" || f[1] == "t" || f[4] != "0" || f[5] == f[6] {
		t.Fatalf("target %d is not running freely: %q", target.pid, out)
	}
}

// killGDBMidAttach SIGKILLs gdb while pyattach is attaching, as soon as gdb
// is the target's tracer (the target is then stopped under ptrace), and
// checks the target keeps running, untraced, and can be attached to again.
func killGDBMidAttach(ctx context.Context, t *testing.T, vm *armvm.VM, target vmTarget, line int) {
	script := fmt.Sprintf(`PYATTACH_DEBUGPY_DIR=%s %s debug %d --break /tmp/arm64_target.py:%d --json --wait 1m --timeout 1m >/dev/null 2>&1 &
p=$!
for n in $(seq 1 3000); do g=$(pgrep -P $p -x gdb) && break; sleep 0.01; done
for n in $(seq 1 3000); do [ "$(awk '/^TracerPid:/ { print $2 }' /proc/%[3]d/status)" = "$g" ] && break; sleep 0.01; done
[ -n "$g" ] && kill -9 $g && echo "killed gdb $g while it traced the target: $(grep State: /proc/%[3]d/status | tr -s '\t ' ' ')"
wait $p; echo "pyattach exited $?"`, armvm.DebugpyDir, armvm.PyattachPath, target.pid, line)
	out, err := vm.Run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("arm64 gdb killed mid-attach: %s", strings.Join(strings.Fields(out), " "))
	if !strings.Contains(out, "killed gdb") {
		t.Fatalf("gdb was never seen to kill: %q", out)
	}
	target.expectRunning(ctx, t, vm)
	report, latency := debugInVM(ctx, t, vm, target.pid, line)
	checkArm64Stop(t, report, line)
	t.Logf("arm64 attach after gdb was killed: %s; latency %s", lastNarration(report), latency)
}
