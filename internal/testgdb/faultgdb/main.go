// Command faultgdb stands in for gdb in pyattach's fault tests: it runs the
// real gdb, passes its machine-interface traffic through, and injects the
// fault $FAULT_MODE:
//
//	kill    SIGKILL gdb (after $FAULT_DELAY), as the OOM killer might, once
//	        it has passed on the first command containing $FAULT_AFTER
//	hang    stop answering from then on: swallow everything gdb says
//	        (gdb itself keeps running; pyattach must time out, then kill it)
//	xstate  answer as gdb 13 does on a CPU with Intel AMX, whose extended
//	        register state it cannot write: every write of that state fails
//	        with "Couldn't write extended state status: Bad address.", and an
//	        inferior call fails the same way after leaving the thread's
//	        orig_rax at -1 (so its interrupted system call would not be
//	        restarted), which is what such a gdb leaves behind
//
// A FAULT_AFTER of "start" hangs before gdb's first prompt.
package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
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
	o := &output{failed: map[string]bool{}}
	o.silenced.Store(after == "start" && mode == "hang")
	go o.relay(out)
	// Die with gdb, as pyattach would see a real gdb die.
	go func() {
		_ = gdb.Wait()
		if !o.silenced.Load() {
			os.Exit(137)
		}
	}()
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 1<<26)
	faulted := false
	for lines.Scan() {
		line := lines.Text()
		if mode == "xstate" {
			line = o.xstate(line)
			if line == "" {
				continue
			}
		}
		_, _ = io.WriteString(in, line+"\n")
		if faulted || after == "" || !strings.Contains(line, after) {
			continue
		}
		faulted = true
		if mode == "hang" {
			o.silenced.Store(true)
			continue
		}
		time.Sleep(delay)
		_ = gdb.Process.Signal(syscall.SIGKILL)
	}
	_ = in.Close()
	select {} // the goroutine above exits when gdb does
}

// output is what pyattach reads: gdb's lines, less what a fault removes or
// rewrites.
type output struct {
	silenced atomic.Bool
	mu       sync.Mutex
	failed   map[string]bool // tokens whose result becomes the xstate error
}

const xstateError = `^error,msg="Couldn't write extended state status: Bad address."`

func (o *output) relay(out io.Reader) {
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if !o.silenced.Load() {
			o.write(o.rewrite(line))
		}
		if err != nil {
			return
		}
	}
}

func (o *output) write(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = io.WriteString(os.Stdout, s)
}

// rewrite turns the result of a command xstate marked into the error.
func (o *output) rewrite(line string) string {
	token, rest := splitToken(line)
	if token == "" || !strings.HasPrefix(rest, "^") {
		return line
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.failed[token] {
		return line
	}
	delete(o.failed, token)
	return token + xstateError + "\n"
}

// xstate returns the command to pass to gdb in place of line, or "" when
// faultgdb answers it itself. A write of the extended state (pyattach's
// probe writes $mxcsr) fails and changes nothing; an inferior call (a call
// through a cast function pointer) fails after damaging orig_rax.
func (o *output) xstate(line string) string {
	token, command := splitToken(line)
	if !strings.HasPrefix(command, "-data-evaluate-expression") {
		return line
	}
	switch {
	case strings.Contains(command, "$mxcsr"):
		o.write(token + xstateError + "\n(gdb) \n")
		return ""
	case strings.Contains(command, ")("):
		o.mu.Lock()
		o.failed[token] = true
		o.mu.Unlock()
		return token + `-data-evaluate-expression "$orig_rax = -1"`
	}
	return line
}

// splitToken splits an MI line into its leading token (digits) and the rest.
func splitToken(line string) (string, string) {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return line[:i], line[i:]
}
