// Package debugpydist is pyattach's own, pinned copy of debugpy.
//
// A target whose environment has no debugpy (a bare virtualenv, a container
// image, python -I -S) can still be debugged: the bootstrap imports debugpy
// from this directory instead, adding it to sys.path only for that import.
//
// Locate says where the copy is looked for. Installed from its wheel
// (`pipx install pyattach`), pyattach depends on debugpy Version, which pip
// installs beside it: the environment's site-packages is the directory
// (Beside), and nothing else needs installing. Built from source, the copy
// is in pyattach's data directory, which Install fills with pip's help
// (`pyattach install-debugpy`): the debugpy package unpacked from the
// wheels of every supported CPython minor version; their compiled speedups
// are tagged by ABI (pydevd_cython.cpython-311-x86_64-linux-gnu.so, ...),
// so one tree serves every interpreter at full speed. (A wheel install has
// the speedups of its own environment's Python only; debugpy runs its pure
// Python code in the others.)
package debugpydist
