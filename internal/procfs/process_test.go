package procfs

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"
)

func TestStateString(t *testing.T) {
	tests := []struct {
		state State
		want  string
	}{
		{StateRunning, "running"},
		{StateSleeping, "sleeping"},
		{StateDiskSleep, "in uninterruptible disk sleep"},
		{StateZombie, "zombie"},
		{StateStopped, "stopped (job control)"},
		{StateTracingStop, "stopped by a tracer"},
		{StateDead, "dead"},
		{StateIdle, "idle"},
		{State('W'), `in unknown state 'W'`},
	}
	for _, tt := range tests {
		if got := tt.state.String(); got != tt.want {
			t.Errorf("State(%q).String() = %q, want %q", byte(tt.state), got, tt.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	tail := " 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 987654 23 24\n" // fields named by number, 22 is starttime
	tests := []struct {
		name, data string
		want       stat
		wantErr    bool
	}{
		{"plain", "42 (python3.11) S 7" + tail, stat{"python3.11", StateSleeping, 7, 987654}, false},
		{"comm with spaces and parens", "42 (a) b (c) T 1" + tail, stat{"a) b (c", StateStopped, 1, 987654}, false},
		{"empty comm", "42 () Z 1" + tail, stat{"", StateZombie, 1, 987654}, false},
		{"no parens", "42 python S 7" + tail, stat{}, true},
		{"truncated", "42 (python) S 7 1 2", stat{}, true},
		{"bad starttime", "42 (p) S 7 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 x 23", stat{}, true},
	}
	for _, tt := range tests {
		got, err := parseStat(tt.data)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseStat() = %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseStatus(t *testing.T) {
	data := "Name:\tpython3\nTgid:\t42\nPid:\t43\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n" +
		"TracerPid:\t9\nNSpid:\t43\t1\nThreads:\t3\nCapPrm:\t0000000000080400\nCapEff:\t0000000000000400\n"
	got, err := parseStatus(data)
	if err != nil {
		t.Fatal(err)
	}
	want := status{tgid: 42, uids: [4]int{1000, 1001, 1002, 1003}, gids: [4]int{100, 101, 102, 103},
		tracerPID: 9, nspid: []int{43, 1}, threads: 3, capPrm: 0x80400, capEff: 0x400}
	if got.tgid != want.tgid || got.uids != want.uids || got.gids != want.gids || got.tracerPID != want.tracerPID ||
		!slices.Equal(got.nspid, want.nspid) || got.threads != want.threads || got.capPrm != want.capPrm || got.capEff != want.capEff {
		t.Errorf("parseStatus() = %+v, want %+v", *got, want)
	}
	for _, bad := range []string{"Uid:\t1 2 3\n", "TracerPid:\tx\n", "CapEff:\tzz\n", "Threads:\n"} {
		if _, err := parseStatus(bad); err == nil {
			t.Errorf("parseStatus(%q) succeeded, want an error", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	p := mustRead(t, os.Getpid())
	exe, _ := os.Executable()
	if p.PID != os.Getpid() || p.PPID != os.Getppid() || p.UID != os.Getuid() || p.EUID != os.Geteuid() ||
		p.GID != os.Getgid() || p.EGID != os.Getegid() || p.Exe != exe || !slices.Equal(p.Cmdline, os.Args) {
		t.Errorf("Read(self) = %+v; want pid %d, ppid %d, uid %d, exe %s, cmdline %q", p, os.Getpid(), os.Getppid(), os.Getuid(), exe, os.Args)
	}
	if p.TracerPID != 0 || p.Threads < 1 || len(p.NSpid) < 1 || p.NSpid[0] != p.PID || p.StartTime == 0 ||
		p.State != StateRunning && p.State != StateSleeping { // the main thread may be waiting for the test's goroutine
		t.Errorf("Read(self) = %+v; want untraced, running or sleeping, threads, NSpid starting with the pid, a start time", p)
	}
	if !p.Alive() {
		t.Error("Alive() = false for ourselves")
	}
}

func TestReadChild(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	cmd.Env = []string{"PROCFS_TEST=environ"}
	pid := testproc.Start(t, cmd)
	var p *Process
	// exec sets the new comm and exe before it lays out the arguments.
	testproc.WaitUntil(t, "sleep has exec'd", func() bool { p = mustRead(t, pid); return len(p.Cmdline) > 0 })
	if p.PPID != os.Getpid() || !slices.Equal(p.Cmdline, []string{"sleep", "600"}) || p.Threads != 1 {
		t.Errorf("Read(sleep) = %+v; want ppid %d, cmdline [sleep 600], 1 thread", p, os.Getpid())
	}
	env, err := p.Environ()
	if err != nil || !slices.Equal(env, cmd.Env) {
		t.Errorf("Environ() = %q, %v; want %q", env, err, cmd.Env)
	}
	tids, err := p.TIDs()
	if err != nil || !slices.Equal(tids, []int{pid}) {
		t.Errorf("TIDs() = %v, %v; want [%d]", tids, err, pid)
	}
}

func TestPIDs(t *testing.T) {
	pids, err := PIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(pids) || !slices.Contains(pids, os.Getpid()) || !slices.Contains(pids, 1) {
		t.Errorf("PIDs() = %v; want a sorted list with 1 and %d", pids, os.Getpid())
	}
}

func TestThreads(t *testing.T) {
	cmd := exec.Command("/usr/bin/python3", "-c",
		"import threading, time\nthreading.Thread(target=time.sleep, args=(600,), daemon=True).start()\nprint('ready', flush=True)\ntime.sleep(600)")
	pid, _ := testproc.StartReady(t, cmd)
	p := mustRead(t, pid)
	tids, err := p.TIDs()
	if err != nil || len(tids) != 2 || tids[0] != pid || p.Threads != 2 {
		t.Fatalf("TIDs() = %v, %v, Threads = %d; want the pid and one more thread", tids, err, p.Threads)
	}
	if _, err := Read(tids[1]); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Read(thread %d) error = %v, want ErrNoProcess (a thread is not a process)", tids[1], err)
	}
}

func TestGoneAndReused(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	pid := testproc.Start(t, cmd)
	p := mustRead(t, pid)
	if !p.Alive() {
		t.Fatal("Alive() = false for a running process")
	}
	reused := *p
	reused.StartTime++ // what a new process with the same PID would show
	if reused.Alive() {
		t.Error("Alive() = true for a process with another start time (PID reuse)")
	}
	if err := CheckPtrace(&reused); !errors.Is(err, ErrNoProcess) {
		t.Errorf("CheckPtrace(reused pid) = %v, want ErrNoProcess", err)
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if p.Alive() {
		t.Error("Alive() = true after the process was killed and reaped")
	}
	if _, err := Read(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Read(reaped pid %d) error = %v, want ErrNoProcess", pid, err)
	}
	if _, err := p.Environ(); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Environ() of a reaped process: error = %v, want ErrNoProcess", err)
	}
}

func TestZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Wait() }) // reaping it is what ends the zombie
	pid := cmd.Process.Pid
	var p *Process
	testproc.WaitUntil(t, "true has exited", func() bool { p = mustRead(t, pid); return p.State == StateZombie })
	if p.Alive() {
		t.Error("Alive() = true for a zombie")
	}
	if p.Exe != "" || p.Cmdline != nil {
		t.Errorf("zombie has Exe %q, Cmdline %q; want none", p.Exe, p.Cmdline)
	}
	if _, err := DetectPython(p); !errors.Is(err, ErrNotPython) {
		t.Errorf("DetectPython(zombie) error = %v, want ErrNotPython", err)
	}
}

func TestStopped(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	pid := testproc.Start(t, cmd)
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var p *Process
	testproc.WaitUntil(t, "sleep is stopped", func() bool { p = mustRead(t, pid); return p.State == StateStopped })
	if !p.Alive() {
		t.Error("Alive() = false for a stopped process")
	}
}
