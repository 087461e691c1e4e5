// Package diag answers, before any attach, the two questions a user asks
// when choosing a target or when an attach failed: which Python processes
// could pyattach attach to (`pyattach ps`, List), and what stands in the way
// of attaching here or to one process (`pyattach doctor`, Doctor).
//
// Neither touches a target: everything comes from /proc, the target's files
// (read through /proc/PID/root) and a few runs of gdb. Each process is judged
// by session.Preflight, the same pre-flight check an attach runs, so `ps`,
// `doctor` and the editor's error for a failed attach give the same reason
// and remedy in the same words.
//
// # Finding debugpy without running Python
//
// A process picker cannot start one interpreter per process, so `ps` (and
// `doctor`) rebuild the part of the target's sys.path where packages live
// from what /proc shows, and look for debugpy/__init__.py in it, in the
// order Python's import would:
//
//   - the script's directory (the working directory for -m and -c), unless
//     -P, -I or PYTHONSAFEPATH;
//   - PYTHONPATH from the process's environment, unless -E or -I;
//   - unless -S: the virtualenv's site-packages (the directory of
//     pyvenv.cfg, found as procfs finds the venv); the user site
//     (PYTHONUSERBASE or $HOME/.local, lib/pythonX.Y/site-packages) unless
//     -s, -I, PYTHONNOUSERSITE, a venv without system site packages, or a
//     process whose effective uid differs from its real uid; and the
//     interpreter's prefix (PYTHONHOME, else the directory above the
//     executable's bin/, else above libpython's lib/): lib and lib64
//     pythonX.Y/site-packages, and Debian's dist-packages directories;
//   - the directories that .pth files in those site directories add.
//
// The version comes from debugpy/_version.py (the "version" of its
// version_json), else from a debugpy-X.Y.Z.dist-info or .egg-info directory
// beside the package, else it is "unknown".
//
// The heuristic cannot see what the program did to sys.path at run time
// (sys.path.insert, site.addsitedir, sitecustomize, .pth lines that run
// code, editable installs made by import hooks), packages inside zip files,
// an environment or working directory the program changed after it started
// (/proc shows the initial environment and the current directory),
// interpreters that set their own paths (embedded interpreters, frozen
// applications), or processes this user may not read (then it finds
// nothing). Absolute symbolic links inside another mount namespace (a
// container) are resolved in ours.
//
// # Telling whether debugpy is already running
//
// Importing debugpy maps nothing; starting it (debugpy.listen or connect,
// which is what the bootstrap does) imports pydevd, whose compiled modules
// (_pydevd_bundle/pydevd_cython*.so, _pydevd_frame_eval,
// _pydevd_sys_monitoring, pydevd_attach_to_process) then appear in
// /proc/PID/maps, wherever debugpy came from: the target's environment,
// Debian's unbundled pydevd, or pyattach's own copy. Without compiled
// modules (PYDEVD_USE_CYTHON=NO, a platform without wheels) nothing is
// mapped, so a second sign is used: a debugpy adapter process (started by
// debugpy.listen, or by an editor) that listens on a port the target holds
// a TCP connection to. Neither sign tells pyattach's bootstrap from the
// program's own use of debugpy: the bootstrap's state lives only in the
// target's sys.modules.
package diag
