#!/usr/bin/env bash
# Installs what pyattach's demo (and, with --tests, its test suite) needs on
# a fresh Debian or Ubuntu machine, and builds pyattach into bin/. Safe to
# run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

FOR_TESTS=no
case "${1:-}" in
"") ;;
--tests) FOR_TESTS=yes ;;
*)
	echo "usage: $0 [--tests]" >&2
	exit 2
	;;
esac

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

say() { printf 'setup: %s\n' "$*"; }

# System packages: gdb drives the injection; python3 runs the demo's sample
# service, and its pip downloads pyattach's own debugpy (below). For the
# tests: Debian's python3 with its own (older) debugpy is one of the
# interpreters the suite attaches to, and python3-venv and pipx install the
# wheels that `make dist` builds (scripts/dist-test.sh).
# install_missing installs those of the Debian packages it is given that
# are not installed yet.
install_missing() {
	local missing=() pkg sudo=""
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	say "installing ${missing[*]}"
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

packages=(gdb python3 python3-pip)
[ "$FOR_TESTS" = no ] || packages+=(python3-venv python3-debugpy pipx)
install_missing "${packages[@]}"

say "building bin/pyattach"
go build -o bin/pyattach .
DEBUGPY=$(bin/pyattach version --debugpy)

# pyattach's own pinned debugpy, supplied to targets that have none.
SUPPLIED="${PYATTACH_DEBUGPY_DIR:-$HOME/.local/share/pyattach/debugpy-$DEBUGPY}"
if [ ! -f "$SUPPLIED/debugpy/__init__.py" ]; then
	say "installing pyattach's own debugpy $DEBUGPY"
	bin/pyattach install-debugpy
fi

# The pinned debugpy in every pyenv interpreter the suite attaches to
# (--tests only: the demo changes no Python installation; its target uses
# pyattach's own copy when it has no debugpy of its own), and bytecode of
# pyattach's own copy for each of them (in pyattach's data directory).
if command -v pyenv >/dev/null 2>&1; then
	for py in "$(pyenv root)"/versions/*/bin/python3; do
		[ -x "$py" ] || continue
		"$py" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null || continue
		if [ "$FOR_TESTS" = yes ]; then
			have=$("$py" -c 'import debugpy; print(debugpy.__version__)' 2>/dev/null || true)
			if [ "$have" != "$DEBUGPY" ]; then
				say "installing debugpy $DEBUGPY into $py"
				"$py" -m pip install -q --disable-pip-version-check --root-user-action=ignore "debugpy==$DEBUGPY"
			fi
		fi
		"$py" -m compileall -q -j 0 "$SUPPLIED" >/dev/null 2>&1 || true
	done
fi

# Debian forky's CPython 3.14 in a chroot: the suite's PEP 768 and container
# targets (--tests only: the demo does not need it). debootstrap and chroot
# need root; elsewhere those tests skip.
if [ "$FOR_TESTS" = yes ]; then
	if [ "$(id -u)" -eq 0 ]; then
		scripts/forky-rootfs.sh
	else
		say "not root: skipping the CPython 3.14 chroot (its tests will skip)"
	fi
fi

# Docker for the container tests (--tests only): Debian's docker.io (the
# client /usr/bin/docker and the daemon /usr/sbin/dockerd, which the tests
# start themselves when none runs, see internal/testdocker) and debootstrap,
# which builds their images' root file systems (no registry is used). The
# tests build and cache the images on first use (about 2 minutes).
if [ "$FOR_TESTS" = yes ]; then
	install_missing docker.io debootstrap
fi

# The emulated Debian arm64 machine the arm64 tests boot (--tests only):
# qemu-system-arm runs it, qemu-user-static runs arm64 binaries here (to
# build its root, and the arm64 unit tests), scripts/arm64-vm.sh builds it
# once into ~/.cache/pyattach/arm64-vm (about 18 minutes; reused after).
# It needs root; elsewhere the arm64 tests skip.
if [ "$FOR_TESTS" = yes ]; then
	if [ "$(id -u)" -eq 0 ]; then
		install_missing qemu-system-arm qemu-user-static qemu-utils debootstrap openssh-client
		scripts/arm64-vm.sh
	else
		say "not root: skipping the emulated arm64 machine (its tests will skip)"
	fi
fi

# The test tools: staticcheck, and the VS Code extension's npm packages
# (--tests only).
if [ "$FOR_TESTS" = yes ]; then
	if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
		say "installing staticcheck"
		go install "$STATICCHECK"
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "setup: the VS Code extension's tests need Node.js 20 or newer with npm; install them (e.g. from nodejs.org or NodeSource) and run this again" >&2
		exit 1
	fi
	if [ ! -d vscode-extension/node_modules ]; then
		say "installing the VS Code extension's npm packages"
		(cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error)
	fi
fi
say "done"
