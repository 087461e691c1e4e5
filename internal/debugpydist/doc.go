// Package debugpydist is pyattach's own, pinned copy of debugpy.
//
// A target whose environment has no debugpy (a bare virtualenv, a container
// image, python -I -S) can still be debugged: the bootstrap imports debugpy
// from this directory instead, adding it to sys.path only for that import.
// The directory holds the debugpy package unpacked from the wheels of every
// supported CPython minor version; their compiled speedups are tagged by
// ABI (pydevd_cython.cpython-311-x86_64-linux-gnu.so, ...), so one tree
// serves every interpreter.
//
// Dir says where the copy is looked for; Install fills it with pip's help
// (`pyattach install-debugpy`).
package debugpydist
