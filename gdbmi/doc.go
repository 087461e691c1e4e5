// Package gdbmi drives GDB over its machine interface (GDB/MI, version 3).
//
// In pyattach's attach flow, gdbmi is the lowest layer that touches the
// target: the inject package uses a [Client] to attach GDB to the user's
// running CPython process, pick a thread, make inferior calls into the
// CPython C API, write the bootstrap into memory and detach again. Because
// the target is a live process that the user cares about, the package is
// built around three guarantees:
//
//   - GDB is always reaped: [Client.Close] and [Client.Kill] are idempotent
//     and [Client.Done] reports when the process is gone.
//   - Every wait is bounded by a context, and an inferior call that does not
//     return can be abandoned with [Client.Interrupt].
//   - The output parser ([ParseRecord]) never panics: a line that is not
//     GDB/MI comes back as a [KindOther] record.
//
// GDB is started with a fixed set of hygiene options (no init files, no
// debuginfod, no paging or confirmation prompts) so that it never blocks on
// the network or on a question.
package gdbmi
