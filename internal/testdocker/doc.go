// Package testdocker gives tests a real Docker: Debian's docker.io client
// and daemon, and images built without any registry, to run the Python
// targets that pyattach attaches to in containers, and pyattach itself in
// a container beside them (the sidecar and `kubectl debug` model) or inside
// them.
//
// It installs nothing: scripts/setup.sh --tests installs docker.io and
// debootstrap. It uses the daemon already running on the default socket,
// or starts one of its own (its data, run-time state, PID file and socket
// under ${PYATTACH_CACHE:-~/.cache/pyattach}/docker, so it never touches
// a user's daemon). Test processes that run at the same time (go test
// runs packages in parallel) share it, each holding a shared lock while it
// does; [Shutdown] in the last one stops it by its PID.
//
// Images are root file systems made by debootstrap (Debian's bookworm with
// python3 and no debugpy; the same with gdb; forky's python3.14 and
// python3.15 from the root scripts/forky-rootfs.sh built, which is only
// read) and fed to `docker import`. The roots are kept in the cache with a
// marker, like the forky root, so that only the first run pays for
// debootstrap; the daemon keeps the imported images.
//
// Containers a test runs are removed by their ID when it ends.
package testdocker
