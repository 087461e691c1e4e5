// Package bootstrap holds the Python program pyattach runs inside the target
// and the channel on which that program reports back.
//
// The injection code (package inject) writes Program's bytes into the
// target's memory and has CPython run them with PyRun_SimpleString at a safe
// point. That stub does little on the borrowed thread: it makes sure the threading
// module knows the real main thread, then starts a new thread that runs
// loader.py. The loader connects to the Listener on 127.0.0.1 and proves it
// was sent by this attach with a one-time token; the Listener answers with
// bootstrap.py, which the loader runs on the same connection. The bootstrap
// starts debugpy (or finds the one a previous attach started) and reports
// either ready (debugpy's port and versions) or failed (a kind, a message
// and a traceback) over JSON-RPC 2.0.
//
// Nothing the adapter passes in can escape its literal: the bootstrap source
// and its configuration travel as hexadecimal inside the stub, paths as the
// hex of their raw bytes, so quotes, backslashes, newlines, NULs and bytes
// that are not UTF-8 all arrive as sent.
package bootstrap
