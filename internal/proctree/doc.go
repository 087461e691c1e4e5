// Package proctree finds how Python processes descend from one another:
// gunicorn's master and its forked workers, a multiprocessing pool, a
// Celery prefork pool. It is read from /proc alone (package procfs); no
// process is touched.
//
// Its place in the attach flow: `pyattach ps` shows each Python process's
// Python parent and role, the editors' pickers offer "PID and its N Python
// workers", and an attach with "processTree": true asks it for the Python
// descendants of the chosen process, each of which the adapter then asks
// the editor to debug in a child session of its own (adapter/tree.go).
//
// # Roles
//
// A Python process's Python parent is its nearest ancestor that is a
// Python process (a shell or other program in between is skipped). Its
// role is one of:
//
//   - "master": it has at least one Python child running the same
//     executable — gunicorn's arbiter, a multiprocessing parent, a Celery
//     main process, multiprocessing's forkserver.
//   - "worker": its Python parent runs the same executable and it has no
//     such children of its own — a forked gunicorn worker, a pool process.
//   - "child": its Python parent runs another executable (another
//     interpreter, or a program that embeds Python).
//   - "" (none): no Python ancestor and no Python children of its
//     executable.
//
// "Same executable" compares /proc/PID/exe, which forked workers share with
// their master and which a venv's python resolves to.
package proctree
