// Package testtarget provides real Python processes for pyattach's tests to
// attach to.
//
// Interpreters finds the CPython installations on the machine (pyenv's and
// the system's) and probes each once for its version and the debugpy it can
// import. Start runs one of the fixture scripts (Idle, CPU, Threads) or any
// script under an interpreter, the way a user's program runs: no terminal,
// stdin from /dev/null, output to a file. Each fixture reports progress by
// rewriting a counter file, so a test can check that the target is still
// running Python code before, during and after an attach. Cleanup kills the
// target by PID, resuming it first in case an attach left it stopped, and
// reaps it.
package testtarget
