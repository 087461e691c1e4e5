package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/diag"
)

// runDoctor checks gdb, the ptrace policy and, given a PID, that process,
// printing each check with its remedy; it fails when an attach would.
func runDoctor(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", "usage: pyattach doctor [--json] [--gdb PATH] [PID]", stderr)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	gdb := fs.String("gdb", "", "check this gdb instead of the gdb on PATH")
	pid, err := parseDoctorArgs(fs, args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	report := diag.Doctor(ctx, diag.DoctorOptions{PID: pid, GDB: *gdb, SuppliedDir: debugpydist.Dir()})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = diag.WriteReport(stdout, report)
	}
	if err != nil {
		return err
	}
	if report.AttachWouldFail {
		return errors.New(report.Summary())
	}
	if !*asJSON {
		fmt.Fprintln(stdout, report.Summary())
	}
	return nil
}

// parseDoctorArgs accepts the flags before and after the optional PID.
func parseDoctorArgs(fs *flag.FlagSet, args []string) (int, error) {
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, nil
	}
	arg := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 0, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	pid, err := strconv.Atoi(arg)
	if err != nil || pid <= 0 {
		fs.Usage()
		return 0, fmt.Errorf("%q is not a process ID", arg)
	}
	return pid, nil
}
