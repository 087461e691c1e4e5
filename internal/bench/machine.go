package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// machine is what the report says about where it ran.
type machine struct {
	CPUs            int    `json:"cpus"`
	CPUModel        string `json:"cpu_model"`
	AMX             bool   `json:"amx"` // the CPU has AMX (amx_tile), where gdb 13 cannot make inferior calls
	Kernel          string `json:"kernel"`
	OS              string `json:"os"`
	LoadAverage     string `json:"load_average"` // at the start of the run
	Python          string `json:"python"`
	Debugpy         string `json:"debugpy"`          // the target's and debugpy's CLI's
	SuppliedDebugpy string `json:"supplied_debugpy"` // pyattach's own copy
	GDB             string `json:"gdb"`
	Pyattach        string `json:"pyattach"`
	PythonEnv       string `json:"python_env"` // PYTHON* variables the targets inherit
}

func describeMachine(ctx context.Context, cfg config) machine {
	m := machine{
		CPUs:        runtime.NumCPU(),
		CPUModel:    cpuModel(),
		AMX:         cpuHasFlag("amx_tile"),
		OS:          osName(),
		LoadAverage: firstLine(readFile("/proc/loadavg")),
		PythonEnv:   pythonEnv(),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	m.Python = output(ctx, cfg.python, "-c", pythonVersionCode)
	m.Debugpy = output(ctx, cfg.python, "-c", "import debugpy; print(debugpy.__version__)")
	m.SuppliedDebugpy = output(ctx, cfg.pyattach, "version", "--debugpy")
	m.GDB = output(ctx, "gdb", "--version")
	m.Pyattach = output(ctx, cfg.pyattach, "version")
	return m
}

func cpuModel() string {
	for line := range strings.SplitSeq(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cpuHasFlag reports whether /proc/cpuinfo lists flag among the CPU's flags.
func cpuHasFlag(flag string) bool {
	for line := range strings.SplitSeq(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			return slices.Contains(strings.Fields(v), flag)
		}
	}
	return false
}

func osName() string {
	for line := range strings.SplitSeq(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// output is the first line a command prints, or "unknown".
func output(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "unknown"
	}
	return firstLine(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// pythonEnv lists the PYTHON* environment variables, which the targets
// inherit and which change what is measured: PYTHONDONTWRITEBYTECODE, for
// one, makes every attach compile a debugpy that has no .pyc files.
func pythonEnv() string { return strings.Join(pythonVars(), " ") }

// pythonVars are the PYTHON* environment variables, sorted.
func pythonVars() []string {
	var vars []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHON") {
			vars = append(vars, kv)
		}
	}
	slices.Sort(vars)
	return vars
}
