//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/diag"
	"github.com/pyattach/pyattach/internal/pathmap"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testdocker"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// The directories a containerised target sees: its sources, bound from
// the host, and, where pyattach runs in a container, pyattach and its
// debugpy.
const (
	appDir      = "/app"
	pyattachDir = "/opt/pyattach"
	debugpyDir  = "/opt/pyattach-debugpy"
)

// dockerTarget is the Idle fixture running in a container, from a host
// directory bound at /app, which it reports its progress to.
type dockerTarget struct {
	*testdocker.Container
	hostDir string // the host directory bound at /app
	script  string // the script's path in the container
}

// startDockerTarget runs the Idle fixture with image's python3 in a new
// container with opts (Image, Mounts and Command are set here) and waits
// for its progress.
func startDockerTarget(t *testing.T, d *testdocker.Docker, image string, opts testdocker.RunOptions) *dockerTarget {
	t.Helper()
	return startDockerTargetWith(t, d, image, "python3", opts)
}

// startDockerTargetWith is startDockerTarget with the interpreter python.
func startDockerTargetWith(t *testing.T, d *testdocker.Docker, image, python string, opts testdocker.RunOptions) *dockerTarget {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil { // for a target run as another user
		t.Fatal(err)
	}
	testtarget.WriteFixture(t, testtarget.Idle, dir)
	opts.Image = image
	opts.Mounts = append(opts.Mounts, testdocker.Mount{Host: dir, Container: appDir})
	opts.Env = append(opts.Env, testtarget.ProgressEnv+"="+appDir+"/progress", "PYTHONUNBUFFERED=1")
	opts.Command = []string{python, appDir + "/" + testtarget.Idle}
	c := d.Start(t, opts)
	tg := &dockerTarget{Container: c, hostDir: dir, script: appDir + "/" + testtarget.Idle}
	tg.waitProgress(t, d)
	return tg
}

// progress returns the target's last reported progress.
func (tg *dockerTarget) progress() int {
	b, _ := os.ReadFile(filepath.Join(tg.hostDir, "progress"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// waitProgress waits for the target to report more progress: it runs
// Python code.
func (tg *dockerTarget) waitProgress(t *testing.T, d *testdocker.Docker) {
	t.Helper()
	from := tg.progress()
	deadline := time.Now().Add(20 * time.Second)
	for tg.progress() <= from {
		if time.Now().After(deadline) {
			t.Fatalf("container %s made no progress beyond %d in 20s: %s", tg.Name, from, d.Logs(tg.Container))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDockerIdentity runs Debian bookworm's python3 in docker containers
// (as root and as a user without a name) with the script bound from the
// host, and checks what pyattach says about them from the host: `pyattach
// ps --json` names the container (runtime, ID and name), ps and doctor
// give the same verdict and reason, and the path mappings map the bound
// directory.
func TestDockerIdentity(t *testing.T) {
	d := testdocker.Require(t)
	image := d.Image(t, testdocker.Bookworm)
	for _, user := range []string{"", "65534:65534"} {
		t.Run("user="+cmpOr(user, "root"), func(t *testing.T) {
			tg := startDockerTarget(t, d, image, testdocker.RunOptions{User: user})
			listed := psEntry(t, tg.PID)
			want := procfs.Container{Runtime: "docker", ID: tg.ID, Name: tg.Name}
			if listed.Container == nil || *listed.Container != want {
				t.Errorf("ps --json: container %+v; want %+v", listed.Container, want)
			}
			report := doctorReport(t, tg.PID)
			expectAgree(t, listed, report)
			if report.Container == nil || *report.Container != want {
				t.Errorf("doctor --json: container %+v; want %+v", report.Container, want)
			}
			mappings, lines, err := pathmap.For(tg.PID)
			if err != nil {
				t.Fatal(err)
			}
			if w := []pathmap.Mapping{{LocalRoot: tg.hostDir, RemoteRoot: appDir}}; !reflect.DeepEqual(mappings, w) {
				t.Errorf("pathmap.For = %+v; want %+v", mappings, w)
			}
			t.Logf("container %s (host PID %d): ps says attachable=%v %q; mappings: %s", tg.Name, tg.PID, listed.Attachable, listed.Reason, strings.Join(lines, "; "))
		})
	}
}

// cmpOr returns s, or or when s is "".
func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// psEntry returns the entry for pid in `pyattach ps --json`.
func psEntry(t *testing.T, pid int) diag.Process {
	t.Helper()
	out, err := exec.Command(bin, "ps", "--json").Output()
	if err != nil {
		t.Fatalf("pyattach ps --json: %v", err)
	}
	var doc struct{ Processes []diag.Process }
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("pyattach ps --json: %v: %s", err, out)
	}
	for _, p := range doc.Processes {
		if p.PID == pid {
			return p
		}
	}
	t.Fatalf("pyattach ps --json does not list process %d", pid)
	return diag.Process{}
}

// doctorReport returns `pyattach doctor --json PID`'s report.
func doctorReport(t *testing.T, pid int) diag.Report {
	t.Helper()
	out, _ := exec.Command(bin, "doctor", "--json", strconv.Itoa(pid)).Output() // fails when the attach would
	var r diag.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pyattach doctor --json %d: %v: %s", pid, err, out)
	}
	return r
}

// expectAgree fails the test unless ps and doctor agree on whether the
// process can be attached to, and on why not: the reason ps gives is the
// detail of a check that doctor failed, with the same remedy.
func expectAgree(t *testing.T, listed diag.Process, r diag.Report) {
	t.Helper()
	var failed []diag.Check
	for _, c := range r.Checks {
		if c.Status == diag.Fail {
			failed = append(failed, c)
		}
	}
	if listed.Attachable != !r.AttachWouldFail {
		t.Errorf("ps says attachable=%v (%s), doctor says the attach would fail=%v (%+v)", listed.Attachable, listed.Reason, r.AttachWouldFail, failed)
		return
	}
	for _, c := range failed {
		if c.Detail == listed.Reason && c.Remedy == listed.Remedy {
			return
		}
	}
	if !listed.Attachable {
		t.Errorf("ps gives the reason %q (remedy %q), which no failed doctor check gives: %+v", listed.Reason, listed.Remedy, failed)
	}
}

// staticPyattach builds pyattach without cgo, to run in containers of any
// distribution, once, beside the suite's pyattach.
var staticPyattach = sync.OnceValues(func() (string, error) {
	out := filepath.Join(filepath.Dir(bin), "static", "pyattach")
	build := exec.Command("go", "build", "-o", out, "../..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: %s", err, b)
	}
	return out, nil
})

// pyattachMounts binds the static pyattach and pyattach's own debugpy into
// a container, read-only, and returns the mounts and the environment that
// points pyattach at its debugpy there.
func pyattachMounts(t *testing.T) ([]testdocker.Mount, []string) {
	t.Helper()
	static, err := staticPyattach()
	if err != nil {
		t.Fatalf("building a static pyattach: %v", err)
	}
	supplied := debugpydist.Dir()
	if !debugpydist.Installed(supplied) {
		t.Skipf("pyattach's own debugpy is not installed in %s (pyattach install-debugpy)", supplied)
	}
	return []testdocker.Mount{
		{Host: filepath.Dir(static), Container: pyattachDir, ReadOnly: true},
		{Host: supplied, Container: debugpyDir, ReadOnly: true},
	}, []string{debugpydist.EnvDir + "=" + debugpyDir}
}

// TestDockerSidecar runs pyattach in a container of its own that shares
// the target container's PID namespace and network (`docker run
// --pid=container:T --network=container:T --cap-add SYS_PTRACE`), as
// `kubectl debug --target` does, speaking DAP on its standard streams: it
// attaches to the target, PID 1 in that namespace, breaks, inspects,
// detaches, and does it again. Bookworm's CPython 3.11 (as root, and as a
// user without a name) is attached with the sidecar's gdb; forky's 3.14
// through PEP 768, with no gdb in the sidecar.
func TestDockerSidecar(t *testing.T) {
	d := testdocker.Require(t)
	mounts, env := pyattachMounts(t)
	tests := []struct {
		name, python, label string
		target, sidecar     func(t testing.TB) string // images
		user                string
		mechanism           string // in the attach's description
	}{
		{"3.11 gdb", "python3", "bookworm-3.11 in docker (sidecar, gdb)", bookworm(d), bookwormGDB(d), "", byTrampoline},
		{"3.11 gdb nobody", "python3", "bookworm-3.11 in docker as uid 65534 (sidecar, gdb)", bookworm(d), bookwormGDB(d), "65534:65534", byTrampoline},
		{"3.14 PEP 768", "python3.14", "forky-3.14 in docker (sidecar, remote exec, no gdb)", d.ForkyImage, d.ForkyImage, "", "by remote exec (PEP 768)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startDockerTargetWith(t, d, tt.target(t), tt.python, testdocker.RunOptions{User: tt.user})
			sidecar := testdocker.RunOptions{
				Name:        testdocker.NewName(),
				Image:       tt.sidecar(t),
				Mounts:      mounts,
				Env:         env,
				ShareWith:   tg.Name,
				CapAdd:      []string{"SYS_PTRACE"},
				Interactive: true,
				Command:     []string{pyattachDir + "/pyattach", "dap"},
			}
			t.Cleanup(func() { d.Remove(t, sidecar.Name) }) // after the adapter's own cleanup
			recordInterpreter(tt.label)
			for round := 1; round <= 2; round++ {
				c := daptest.StartAdapter(t, testdocker.Client, d.Args(sidecar.RunArgs()...)...)
				took := dockerRound(t, c, tg, 1)
				expectOutput(t, c, tt.mechanism)
				t.Logf("round %d: sidecar attach to PID 1 of %s: %s; attach request to breakpoint stop in %s", round, tg.Name, attachedIn(c), took.Round(time.Millisecond))
				tg.waitProgress(t, d)
			}
		})
	}
}

// byTrampoline is how the attach describes an injection with gdb and
// pyattach's trampoline.
const byTrampoline = "by trampoline"

// bookworm and bookwormGDB return the images as TestDockerSidecar's
// table wants them.
func bookworm(d *testdocker.Docker) func(testing.TB) string {
	return func(t testing.TB) string { return d.Image(t, testdocker.Bookworm) }
}

func bookwormGDB(d *testdocker.Docker) func(testing.TB) string {
	return func(t testing.TB) string { return d.Image(t, testdocker.BookwormGDB) }
}

// TestDockerInside runs pyattach inside the target's own container
// (`docker exec -i T pyattach dap`, with the image's gdb and the container
// started with SYS_PTRACE), attaching to the container's PID 1.
func TestDockerInside(t *testing.T) {
	d := testdocker.Require(t)
	mounts, env := pyattachMounts(t)
	tg := startDockerTarget(t, d, d.Image(t, testdocker.BookwormGDB), testdocker.RunOptions{Mounts: mounts, CapAdd: []string{"SYS_PTRACE"}})
	recordInterpreter("bookworm-3.11 in docker (pyattach inside, gdb)")
	for round := 1; round <= 2; round++ {
		args := append([]string{"exec", "--interactive"}, envFlags(env)...)
		args = append(args, tg.ID, pyattachDir+"/pyattach", "dap")
		c := daptest.StartAdapter(t, testdocker.Client, d.Args(args...)...)
		took := dockerRound(t, c, tg, 1)
		expectOutput(t, c, byTrampoline)
		t.Logf("round %d: attach inside %s to its PID 1: %s; attach request to breakpoint stop in %s", round, tg.Name, attachedIn(c), took.Round(time.Millisecond))
		tg.waitProgress(t, d)
	}
}

// envFlags turns KEY=value entries into docker's --env flags.
func envFlags(env []string) []string {
	var f []string
	for _, e := range env {
		f = append(f, "--env", e)
	}
	return f
}

// dockerRound attaches the session c to process pid (as pyattach sees it)
// of the containerised target, breaks in tick() by the script's path in
// the container, checks the frame and a local, detaches, and returns the
// time from the attach request to the stop.
func dockerRound(t *testing.T, c *daptest.Client, tg *dockerTarget, pid int) time.Duration {
	t.Helper()
	return dockerRoundAt(t, c, tg, pid, tg.script)
}

// dockerRoundAt is dockerRound with the script named script, as the
// editor names it.
func dockerRoundAt(t *testing.T, c *daptest.Client, tg *dockerTarget, pid int, script string) time.Duration {
	t.Helper()
	c.Initialize(daptest.DefaultInitializeArgs())
	line := testtarget.Line(t, filepath.Join(tg.hostDir, testtarget.Idle), testtarget.MarkTick)
	began := time.Now()
	attach := c.Send("attach", map[string]any{"processId": pid})
	c.ExpectEvent("initialized")
	if bps := c.SetBreakpoints(script, []int{line}); len(bps) != 1 || !bps[0].Verified {
		t.Fatalf("breakpoint not verified: %+v", bps)
	}
	c.ConfigurationDone()
	if resp := c.ExpectResponse(attach); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Message)
	}
	stopped := c.ExpectStopped()
	took := time.Since(began)
	top := c.StackTrace(stopped.ThreadId)[0]
	if top.Name != "tick" || top.Line != line || top.Source == nil || top.Source.Path != script {
		t.Fatalf("top frame = %s at %+v:%d; want tick at %s:%d", top.Name, top.Source, top.Line, script, line)
	}
	i, _ := strconv.Atoi(localValue(t, c, top.Id, "i"))
	if got := c.Evaluate("counter + i", top.Id, "repl").Result; got != strconv.Itoa(3*i) {
		t.Errorf("evaluate counter + i = %s; want %d", got, 3*i)
	}
	c.SetBreakpoints(script, nil)
	c.Continue(stopped.ThreadId)
	c.Disconnect(false)
	c.Close()
	return took
}

// TestDockerOwnNetwork attaches from the host to containerised targets on
// docker's default bridge network, with no extra command: pyattach enters
// the container's network namespace for its ports, and maps the bound
// directory, so the breakpoint is set on the host's copy of the script and
// the stopped frame opens it. Bookworm's 3.11 as root and as a user
// without a name (gdb), forky's 3.14 (PEP 768); each twice.
func TestDockerOwnNetwork(t *testing.T) {
	d := testdocker.Require(t)
	tests := []struct {
		name, python, user, label, mechanism string
		image                                func(testing.TB) string
	}{
		{"3.11 gdb", "python3", "", "bookworm-3.11 in docker (from the host, own network, gdb)", byTrampoline, bookworm(d)},
		{"3.11 gdb nobody", "python3", "65534:65534", "bookworm-3.11 in docker as uid 65534 (from the host, own network, gdb)", byTrampoline, bookworm(d)},
		{"3.14 PEP 768", "python3.14", "", "forky-3.14 in docker (from the host, own network, remote exec)", "by remote exec (PEP 768)", d.ForkyImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startDockerTargetWith(t, d, tt.image(t), tt.python, testdocker.RunOptions{User: tt.user})
			recordInterpreter(tt.label)
			hostScript := filepath.Join(tg.hostDir, testtarget.Idle)
			for round := 1; round <= 2; round++ {
				c := daptest.StartAdapter(t, bin, "dap", "--log", filepath.Join(t.TempDir(), "pyattach.log"))
				took := dockerRoundAt(t, c, tg, tg.PID, hostScript)
				expectOutput(t, c, "path mapping: "+appDir+" in the target is "+tg.hostDir+" here")
				expectOutput(t, c, tt.mechanism)
				t.Logf("round %d: host attach to %s (host PID %d): %s; attach request to breakpoint stop in %s", round, tg.Name, tg.PID, attachedIn(c), took.Round(time.Millisecond))
				tg.waitProgress(t, d)
			}
		})
	}
}
