// Package testvenv makes the virtual environments that end-to-end tests
// run third-party Python servers in: gunicorn from PyPI, pinned, one venv
// per interpreter, never installed into the interpreter's own environment.
// Venvs are kept in ~/.cache/pyattach/venvs (built once per machine and
// interpreter, a few seconds each, then reused) and are built under a
// lock, so that test processes running at once do not race.
//
// It also holds the fixtures that run in those venvs: a gunicorn service
// with sync workers (Gunicorn) and a multiprocessing.Pool program
// (PoolScript, which needs no venv).
package testvenv
