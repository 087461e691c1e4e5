// Command faultgdb stands in for gdb in pyattach's fault tests: it runs the
// real gdb, passes its machine-interface traffic through, and when it has
// passed on the first command line containing $FAULT_AFTER it injects the
// fault $FAULT_MODE:
//
//	kill  SIGKILL gdb (after $FAULT_DELAY), as the OOM killer might
//	hang  stop answering: swallow everything gdb says from then on
//	      (gdb itself keeps running; pyattach must time out, then kill it)
//
// A FAULT_AFTER of "start" hangs before gdb's first prompt.
package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	after, mode := os.Getenv("FAULT_AFTER"), os.Getenv("FAULT_MODE")
	delay, _ := time.ParseDuration(os.Getenv("FAULT_DELAY"))
	gdb := exec.Command("gdb", os.Args[1:]...)
	gdb.Stderr = os.Stderr
	in, _ := gdb.StdinPipe()
	out, _ := gdb.StdoutPipe()
	if err := gdb.Start(); err != nil {
		os.Exit(127)
	}
	var silenced atomic.Bool
	silenced.Store(after == "start" && mode == "hang")
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if !silenced.Load() {
				_, _ = io.WriteString(os.Stdout, line)
			}
			if err != nil {
				return
			}
		}
	}()
	// Die with gdb, as pyattach would see a real gdb die.
	go func() {
		_ = gdb.Wait()
		if !silenced.Load() {
			os.Exit(137)
		}
	}()
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 1<<26)
	faulted := false
	for lines.Scan() {
		_, _ = io.WriteString(in, lines.Text()+"\n")
		if faulted || after == "" || !strings.Contains(lines.Text(), after) {
			continue
		}
		faulted = true
		if mode == "hang" {
			silenced.Store(true)
			continue
		}
		time.Sleep(delay)
		_ = gdb.Process.Signal(syscall.SIGKILL)
	}
	_ = in.Close()
	select {} // the goroutine above exits when gdb does
}
