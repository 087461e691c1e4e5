package proctree

import (
	"bufio"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBuildRoles(t *testing.T) {
	// 1 init, 10 gunicorn master with workers 11, 12; 12 runs a shell 13
	// that runs another interpreter 14; 20 stands alone.
	parents := map[int]int{1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 14: 13, 20: 1}
	pythons := map[int]string{10: "/py", 11: "/py", 12: "/py", 14: "/other", 20: "/py"}
	tree := Build(parents, pythons)
	want := map[int]Node{
		10: {PID: 10, Role: Master, Descendants: 3},
		11: {PID: 11, PythonParent: 10, Role: Worker},
		12: {PID: 12, PythonParent: 10, Role: Worker, Descendants: 1},
		14: {PID: 14, PythonParent: 12, Role: Child},
		20: {PID: 20, Role: None},
	}
	for pid, w := range want {
		if got, ok := tree.Node(pid); !ok || got != w {
			t.Errorf("Node(%d) = %+v, %v; want %+v", pid, got, ok, w)
		}
	}
	if _, ok := tree.Node(13); ok {
		t.Errorf("the shell 13 is in the tree")
	}
	if got := pids(tree.Descendants(10)); !slices.Equal(got, []int{11, 12, 14}) {
		t.Errorf("Descendants(10) = %v; want [11 12 14]", got)
	}
	if got := pids(tree.Descendants(1)); !slices.Equal(got, []int{10, 20, 11, 12, 14}) {
		t.Errorf("Descendants(1) = %v; want parents before children", got)
	}
}

func TestBuildSurvivesLoops(t *testing.T) {
	tree := Build(map[int]int{5: 6, 6: 5}, map[int]string{5: "/py"})
	if n, _ := tree.Node(5); n.PythonParent != 0 || n.Role != None {
		t.Errorf("Node(5) = %+v in a parent loop", n)
	}
}

func pids(nodes []Node) []int {
	var out []int
	for _, n := range nodes {
		out = append(out, n.PID)
	}
	return out
}

// forkingScript forks two workers and, through a shell, one more
// interpreter; it prints each child's PID and sleeps.
const forkingScript = `
import os, subprocess, sys, time
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    kids.append(pid)
shell = subprocess.Popen(["/bin/sh", "-c", sys.executable + " -c 'import time; time.sleep(120)'; true"])
print(" ".join(map(str, kids + [shell.pid])), flush=True)
time.sleep(120)
`

// TestDescendantsOfRealProcesses spawns a Python process that forks two
// workers and starts a third interpreter through a shell, and finds all
// three below it.
func TestDescendantsOfRealProcesses(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	cmd := exec.Command(python, "-c", forkingScript)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopTree(t, cmd.Process.Pid)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the children's PIDs: %v", err)
	}
	var kids []int
	for _, f := range strings.Fields(line) {
		n, _ := strconv.Atoi(f)
		kids = append(kids, n)
	}
	shell := kids[2]
	var nodes []Node
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if nodes, err = Descendants(cmd.Process.Pid); err == nil && len(nodes) == 3 {
			break
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("Descendants = %+v, %v; want the two workers and the shell's interpreter", nodes, err)
	}
	for i, want := range kids[:2] {
		if n := nodes[i]; n.PID != want || n.PythonParent != cmd.Process.Pid || n.Role != Worker {
			t.Errorf("descendant %d = %+v; want worker %d of %d", i, n, want, cmd.Process.Pid)
		}
	}
	if n := nodes[2]; n.PythonParent != cmd.Process.Pid || n.Role != Worker || n.PID == shell {
		t.Errorf("the shell's interpreter = %+v; want a worker of %d behind shell %d", n, cmd.Process.Pid, shell)
	}
	tree, _ := Read(cmd.Process.Pid)
	if n, _ := tree.Node(cmd.Process.Pid); n.Role != Master || n.Descendants != 3 {
		t.Errorf("the parent = %+v; want a master of 3", n)
	}
}

// stopTree kills the process and everything below it, by PID.
func stopTree(t *testing.T, pid int) {
	t.Helper()
	tree, err := Read(pid)
	if err != nil {
		t.Errorf("reading the tree to stop it: %v", err)
	}
	var all []int
	for p := range tree.parents {
		if tree.below(p, pid) {
			all = append(all, p)
		}
	}
	for _, p := range append(all, pid) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}
