// Command bench measures pyattach against debugpy's own attach-by-PID
// (`python -m debugpy --listen HOST:PORT --pid PID`, what VS Code runs) on
// the same machine, interpreter, debugpy and target, and prints a Markdown
// table of medians and ratios with the project's performance targets.
// pyattach's attach starts debugpy's adapter as its own child while gdb
// injects; the steps table shows the two overlapping.
//
//	go run ./internal/bench [-rounds 10] [-sessions 2] [-tree-rounds 3] [-tree-workers 8] [-container-rounds 5] [-python PY] [-pyattach BIN] [-json FILE] [-overhead-only | -container-only]
//
// Every round starts a fresh target.py (debugpy can be injected into a
// process only once, and pyattach reuses a debugpy it started, which would
// flatter it) and the tools take turns: pyattach, debugpy, pyattach, ...
//
// The attach phase measures, for each tool, the attach latency (from the
// attach request, or from launching debugpy's CLI, to the stopped event of
// a breakpoint the target hits every 2 ms), the target's pause (the longest
// gap seen by a heartbeat thread inside the target that beats every
// millisecond), and the processes left running. It also attaches to targets
// whose environment lacks debugpy. pyattach runs with --log, and the report
// breaks its latency down by the steps the log times.
//
// The session phase measures the bridge: the round trips of small requests
// through pyattach against the same requests sent straight to debugpy's
// port, the throughput of a large variables response, and pyattach's peak
// RSS. pyattach runs without --log there. The direct session first sends a
// few requests to debugpy as it comes (each waits ~40 ms for a delayed
// ACK), then gets what pyattach's own session has (TCP_NODELAY in pydevd;
// no delayed ACK on the client's side, as there is none on the pipes
// between pyattach and its adapter), so that what remains is the bridge's
// cost.
//
// The overhead phase measures what a session costs the program, per
// interpreter (every pyenv CPython 3.8+ and /usr/bin/python3, or
// -overhead-pythons): two copies of internal/busy's program run side by
// side, one is attached to with a breakpoint in a function it never calls
// and then detached, and the report gives the attached copy's throughput
// (work per CPU second) relative to its twin's before the attach, while
// attached and after the detach. -overhead-only runs this phase alone,
// -overhead=false skips it.
//
// After every round the benchmark checks whether the target is still
// alive (result.TargetKilled, in the JSON too): an attach that fails may
// take its target down. Where debugpy --pid fails every round (on Intel
// CPUs with AMX, gdb 13 cannot make the inferior calls it relies on, and
// its targets die), the report says so up front and gives, instead of
// ratios, its failures and the targets it killed, with pyattach's figures
// on their own; elsewhere it compares as above. The progress output says
// which of the two the report is.
//
// The tree phase (-tree-rounds, 3 by default; 0 skips it) measures an
// attach with "processTree" to a program that forks 8 workers
// (tree_target.py; -tree-workers N for another number: with fewer
// processes than the machine has cores, the attaches are not short of
// CPU): the time from the attach request until the last of the 9 sessions
// (the children started as an editor starts them, one `pyattach dap` each,
// concurrently) has its attach answered, against a single attach to the
// same master (goal: at most 1.5 times), and the longest heartbeat gap any
// worker saw meanwhile.
//
// The container phase (-container-rounds, 5 by default; 0 skips it;
// -container-only runs it alone) measures the attach from the host into a
// Docker container with a network of its own (docker's default bridge):
// target.py under Debian bookworm's python3 in a container from
// internal/testdocker's image, against the same on the host under
// /usr/bin/python3 (the same CPython 3.11.2) without debugpy in its
// environment, so that both import pyattach's supplied debugpy. The two
// take turns, measured as the attach phase measures; the container's
// targets run one per round in one container (`docker exec`), so that
// only the first attach copies debugpy into it. The report gives the warm
// rounds' medians, spread and ratio, container / host, against the goal of
// at most 1.2, and the first attach on its own line. Without root or
// Docker the phase is skipped, and says why; the container is removed by
// its ID.
//
// Every process the benchmark starts carries an environment tag, which its
// own children inherit; each round ends by killing, by PID, every process
// with the round's tag (debugpy's adapter daemonizes, so it cannot be found
// by parentage), and the benchmark does the same for the whole run on exit
// or Ctrl-C.
package main
