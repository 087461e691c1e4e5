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
    value = i * 7  # BREAK
    with open(sys.argv[1] + ".new", "w") as f:
        f.write(str(i))
    os.replace(sys.argv[1] + ".new", sys.argv[1])
    return value

i = 0
while True:
    i += 1
    tick(i)
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
	vm, err := armvm.Boot(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	t.Logf("arm64: booted %s in %s (emulated)", armvm.Description(dir), vm.Boot.Round(time.Second))
	if err := vm.Provision(ctx, "../.."); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Run(ctx, "cat > /tmp/arm64_target.py <<'EOF'\n"+arm64Target+"EOF"); err != nil {
		t.Fatal(err)
	}
	for _, py := range []arm64Python{
		{label: "Debian arm64 python3 (gdb)", command: "python3", gdbPath: true},
		{label: "forky arm64 python3.14 (PEP 768)", command: "chroot /srv/forky python3.14"},
	} {
		t.Run(py.label, func(t *testing.T) { testArm64Python(ctx, t, vm, py) })
	}
	t.Logf("arm64: the emulated machine's part took %s", time.Since(began).Round(time.Second))
}

type arm64Python struct {
	label   string
	command string // runs the interpreter, in the machine's shell
	gdbPath bool   // attached with gdb (else PEP 768)
}

func testArm64Python(ctx context.Context, t *testing.T, vm *armvm.VM, py arm64Python) {
	pid := startArm64Target(ctx, t, vm, py)
	line := strings.Count(arm64Target[:strings.Index(arm64Target, "# BREAK")], "\n") + 1
	for attach := 1; attach <= 2; attach++ {
		report, latency := debugInVM(ctx, t, vm, pid, line)
		checkArm64Stop(t, report, line)
		t.Logf("arm64 %s, attach %d: %s; attach latency %s (emulated)", py.label, attach, lastNarration(report), latency)
		expectArm64Running(ctx, t, vm, pid)
	}
	recordInterpreter("arm64 " + py.label)
	if py.gdbPath {
		killGDBMidAttach(ctx, t, vm, pid, line)
	}
}

// startArm64Target starts the target in the machine, detached from the
// SSH session, and returns its PID; it is stopped by that PID at the end.
func startArm64Target(ctx context.Context, t *testing.T, vm *armvm.VM, py arm64Python) int {
	out, err := vm.Run(ctx, fmt.Sprintf("setsid %s /tmp/arm64_target.py /tmp/arm64_progress </dev/null >/tmp/arm64_target.log 2>&1 & echo $!", py.command))
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
	expectArm64Running(ctx, t, vm, pid)
	return pid
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

// expectArm64Running checks that the target is neither stopped nor traced
// and still makes progress.
func expectArm64Running(ctx context.Context, t *testing.T, vm *armvm.VM, pid int) {
	t.Helper()
	script := fmt.Sprintf(`for n in $(seq 1 600); do [ -s /tmp/arm64_progress ] && break; sleep 0.1; done
a=$(cat /tmp/arm64_progress); sleep 2; b=$(cat /tmp/arm64_progress)
grep -E '^(State|TracerPid):' /proc/%d/status | tr -s '\t ' ' ' | tr '\n' ' '; echo "$a $b"`, pid)
	out, err := vm.Run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out)
	// State: S (sleeping) TracerPid: 0 A B
	if len(f) < 7 || f[1] == "T" || f[1] == "t" || f[4] != "0" || f[5] == f[6] {
		t.Fatalf("target %d is not running freely: %q", pid, out)
	}
}

// killGDBMidAttach SIGKILLs gdb while pyattach is attaching, as soon as gdb
// is the target's tracer (the target is then stopped under ptrace), and
// checks the target keeps running, untraced, and can be attached to again.
func killGDBMidAttach(ctx context.Context, t *testing.T, vm *armvm.VM, pid, line int) {
	script := fmt.Sprintf(`PYATTACH_DEBUGPY_DIR=%s %s debug %d --break /tmp/arm64_target.py:%d --json --wait 1m --timeout 1m >/dev/null 2>&1 &
p=$!
for n in $(seq 1 3000); do g=$(pgrep -P $p -x gdb) && break; sleep 0.01; done
for n in $(seq 1 3000); do [ "$(awk '/^TracerPid:/ { print $2 }' /proc/%[3]d/status)" = "$g" ] && break; sleep 0.01; done
[ -n "$g" ] && kill -9 $g && echo "killed gdb $g while it traced the target: $(grep State: /proc/%[3]d/status | tr -s '\t ' ' ')"
wait $p; echo "pyattach exited $?"`, armvm.DebugpyDir, armvm.PyattachPath, pid, line)
	out, err := vm.Run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("arm64 gdb killed mid-attach: %s", strings.Join(strings.Fields(out), " "))
	if !strings.Contains(out, "killed gdb") {
		t.Fatalf("gdb was never seen to kill: %q", out)
	}
	expectArm64Running(ctx, t, vm, pid)
	report, latency := debugInVM(ctx, t, vm, pid, line)
	checkArm64Stop(t, report, line)
	t.Logf("arm64 attach after gdb was killed: %s; latency %s", lastNarration(report), latency)
}
