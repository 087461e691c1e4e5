#!/usr/bin/env bash
# dist-test.sh builds the release artifacts (`make dist`) and installs them
# the way a user would, offline, from the files in dist/:
#
#   - the artifacts: SHA256SUMS matches; each binary is a static 64-bit ELF
#     executable for its processor (x86-64, AArch64); each wheel has its
#     platform tag, the version of VERSION, the dependency on the pinned
#     debugpy, and the same binary as dist/ as its `pyattach` script; each
#     .vsix is marked for its platform and carries that platform's binary
#     and no other. The arm64 files cannot run here: these checks are theirs.
#   - pip: the x86-64 wheel into a fresh virtual environment of Debian's
#     python3, with `pip install --no-index --find-links DIR`, DIR holding the
#     pinned debugpy's wheel (downloaded once, kept in
#     ${PYATTACH_CACHE:-~/.cache/pyattach}/wheelhouse-cpXY); then that venv's
#     `pyattach version` must name the venv's site-packages as the debugpy
#     it supplies, and `pyattach demo`, on a target Python that has no
#     debugpy, must import debugpy from there.
#   - pipx (Debian's, when installed: scripts/setup.sh --tests installs it)
#     and uv (from PyPI, kept in the cache): the same, with PIPX_HOME and
#     UV_TOOL_DIR in the test's directory, run through the link they put in
#     their bin directory.
#
# Prints which checks ran and which were skipped, and why. Everything goes
# in one temporary directory (TMPDIR too), removed at the end; the one
# process left running in the background (each `pyattach demo`, in a session
# of its own with the sample it starts) is stopped by its process group if
# the test ends before it does.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PYTHON=/usr/bin/python3 # Debian's, with python3-venv
UV_VERSION=0.13.9
CACHE=${PYATTACH_CACHE:-$HOME/.cache/pyattach}
VERSION=$(tr -d '[:space:]' <VERSION)
DIST=$ROOT/dist

say() { printf 'dist-test: %s\n' "$*"; }
PASSED=()
FAILED=()
SKIPPED=()
pass() {
	PASSED+=("$1")
	say "ok: $1"
}
fail() {
	FAILED+=("$1")
	say "FAILED: $1"
}
skip() {
	SKIPPED+=("$1")
	say "skipped: $1"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyattach-dist-test-XXXXXX")
mkdir -p "$WORK/tmp"
DEMO_PID=
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
		kill -TERM -- "-$DEMO_PID" 2>/dev/null || true
		sleep 1
		kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
		wait "$DEMO_PID" 2>/dev/null || true
		say "stopped pyattach demo (process group $DEMO_PID)"
	fi
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# pip's, pipx's, uv's and pyattach demo's temporary files go in $WORK too.
export TMPDIR=$WORK/tmp
# The supplied debugpy must be found beside the installed pyattach, not set.
unset PYATTACH_DEBUGPY_DIR

# 1. make dist.
say "make dist"
start=$(date +%s)
scripts/dist.sh >"$WORK/dist.log" 2>&1 || {
	cat "$WORK/dist.log" >&2
	say "make dist failed"
	exit 1
}
say "make dist took $(($(date +%s) - start))s"
DEBUGPY=$("$DIST/pyattach-linux-amd64" version --debugpy)
WHEEL_X64=$DIST/pyattach-$VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl

# 2. The artifacts themselves.
if (cd "$DIST" && sha256sum --quiet -c SHA256SUMS) && [ "$(wc -l <"$DIST/SHA256SUMS")" -eq 6 ]; then
	pass "SHA256SUMS lists the 6 artifacts and matches them"
else
	fail "SHA256SUMS"
fi
if "$PYTHON" - "$DIST" "$VERSION" "$DEBUGPY" >"$WORK/artifacts.log" 2>&1 <<'EOF'; then
import hashlib, json, re, struct, sys, zipfile
from pathlib import Path

dist, version, debugpy = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
problems = []

def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        problems.append(what)

def elf(data):
    """(class, data encoding, machine, has PT_INTERP) of an ELF file's bytes."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return machine, 3 in types  # PT_INTERP: a dynamic loader

sha = lambda b: hashlib.sha256(b).hexdigest()
arches = {  # GOARCH: (ELF machine, the wheels' name for the processor, VS Code target)
    "amd64": (0x3E, "x86_64", "linux-x64"),
    "arm64": (0xB7, "aarch64", "linux-arm64"),
}
for goarch, (machine, cpu, target) in arches.items():
    binary = (dist / f"pyattach-linux-{goarch}").read_bytes()
    info = elf(binary)
    check(info == (machine, False), f"pyattach-linux-{goarch} is a static ELF executable for machine {machine:#x} (found {info})")

    tags = {f"manylinux_2_17_{cpu}", f"manylinux2014_{cpu}"}
    wheels = [w for w in dist.glob("*.whl") if w.name == f"pyattach-{version}-py3-none-manylinux_2_17_{cpu}.manylinux2014_{cpu}.whl"]
    check(len(wheels) == 1, f"the {goarch} wheel is there")
    if wheels:
        with zipfile.ZipFile(wheels[0]) as z:
            meta = z.read(f"pyattach-{version}.dist-info/METADATA").decode()
            wheel = z.read(f"pyattach-{version}.dist-info/WHEEL").decode()
            script = f"pyattach-{version}.data/scripts/pyattach"
            found = {t.split("-", 2)[2] for t in re.findall(r"^Tag: (\S+)$", wheel, re.M)}
            check(found == tags, f"{wheels[0].name}: platform tags {sorted(found)}")
            check("Root-Is-Purelib: false" in wheel, f"{wheels[0].name}: not pure Python")
            check(re.search(rf"^Version: {re.escape(version)}$", meta, re.M) is not None, f"{wheels[0].name}: version {version}")
            deps = re.findall(r"^Requires-Dist: (.+)$", meta, re.M)
            check(deps == [f"debugpy=={debugpy}"], f"{wheels[0].name}: depends on debugpy=={debugpy} alone ({deps})")
            mode = z.getinfo(script).external_attr >> 16
            check(mode & 0o111 == 0o111, f"{wheels[0].name}: {script} executable ({oct(mode)})")
            check(sha(z.read(script)) == sha(binary), f"{wheels[0].name}: {script} is dist/pyattach-linux-{goarch}")

    vsix = dist / f"pyattach-{target}-{version}.vsix"
    with zipfile.ZipFile(vsix) as z:
        names = z.namelist()
        bins = [n for n in names if n.startswith("extension/bin/")]
        check(bins == [f"extension/bin/{target}/pyattach"], f"{vsix.name}: carries bin/{target}/pyattach alone ({bins})")
        if bins:
            check(sha(z.read(bins[0])) == sha(binary), f"{vsix.name}: its binary is dist/pyattach-linux-{goarch}")
            check((z.getinfo(bins[0]).external_attr >> 16) & 0o111 == 0o111, f"{vsix.name}: its binary is executable")
        identity = re.search(r"<Identity [^>]*>", z.read("extension.vsixmanifest").decode())
        check(identity is not None and f'TargetPlatform="{target}"' in identity.group(0) and f'Version="{version}"' in identity.group(0),
              f"{vsix.name}: marked for {target}, version {version} ({identity and identity.group(0)})")
        check(json.loads(z.read("extension/package.json"))["version"] == version, f"{vsix.name}: package.json version {version}")
sys.exit(1 if problems else 0)
EOF
	pass "artifacts: ELF machines, static linking, wheel tags/metadata/binary, .vsix platforms and binaries (amd64 and arm64)"
else
	cat "$WORK/artifacts.log" >&2
	fail "artifacts (see above)"
fi

# 3. The pinned debugpy's wheel for Debian's python3, downloaded once.
PYTAG=$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
WHEELHOUSE=$CACHE/wheelhouse-$PYTAG
if ! compgen -G "$WHEELHOUSE/debugpy-$DEBUGPY-*.whl" >/dev/null; then
	say "downloading debugpy $DEBUGPY's wheel for $PYTAG into $WHEELHOUSE"
	mkdir -p "$WHEELHOUSE"
	"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		--dest "$WHEELHOUSE" "debugpy==$DEBUGPY"
fi

# A target Python without debugpy: so that the demo uses the supplied one.
"$PYTHON" -m venv --without-pip "$WORK/target"
TARGET_PYTHON=$WORK/target/bin/python

# check_install NAME PYATTACH SITE: the installed pyattach supplies the
# debugpy in SITE, and its demo attaches with it.
check_install() {
	local name=$1 pyattach=$2 site=$3 out
	out=$("$pyattach" version 2>&1) || true
	if grep -qxF "pyattach $VERSION (supplies debugpy $DEBUGPY)" <<<"$out" &&
		grep -qxF "supplied debugpy: $site (installed beside pyattach; installed)" <<<"$out"; then
		pass "$name: pyattach version names $site as the supplied debugpy"
	else
		printf '%s\n' "$out" >&2
		fail "$name: pyattach version (want the supplied debugpy in $site)"
	fi
	setsid "$pyattach" demo --python "$TARGET_PYTHON" >"$WORK/demo-$name.log" 2>&1 &
	DEMO_PID=$!
	local waited=0
	while kill -0 "$DEMO_PID" 2>/dev/null && ((waited < 180)); do
		sleep 1
		waited=$((waited + 1))
	done
	if kill -0 "$DEMO_PID" 2>/dev/null; then
		kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
		echo "(stopped after ${waited}s)" >>"$WORK/demo-$name.log"
	fi
	local status=0
	wait "$DEMO_PID" || status=$?
	DEMO_PID=
	if [ "$status" -eq 0 ] &&
		grep -qxF "pyattach: importing debugpy from $site" "$WORK/demo-$name.log" &&
		grep -q "^pyattach: attached to process [0-9]* (CPython [0-9.]*) with debugpy $DEBUGPY from supplied;" "$WORK/demo-$name.log" &&
		grep -q "is still running after the detach" "$WORK/demo-$name.log"; then
		pass "$name: pyattach demo attached with the supplied debugpy from $site, and detached"
	else
		cat "$WORK/demo-$name.log" >&2
		fail "$name: pyattach demo (exit status $status)"
	fi
}

# 4. pip, offline, into a fresh venv.
say "pip install --no-index --find-links $WHEELHOUSE $(basename "$WHEEL_X64")"
"$PYTHON" -m venv "$WORK/venv"
if "$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$WHEELHOUSE" "$WHEEL_X64" >"$WORK/pip.log" 2>&1; then
	pass "pip: offline install of the x86-64 wheel and its debugpy into a fresh venv"
	check_install pip "$WORK/venv/bin/pyattach" "$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
else
	cat "$WORK/pip.log" >&2
	fail "pip: offline install"
fi

# 5. pipx, offline (its shared pip cannot be upgraded offline: it says so in its log and goes on).
if command -v pipx >/dev/null 2>&1; then
	say "pipx install (pipx $(pipx --version)) --pip-args='--no-index --find-links $WHEELHOUSE'"
	if PIPX_HOME=$WORK/pipx PIPX_BIN_DIR=$WORK/pipx-bin PIPX_MAN_DIR=$WORK/pipx-man PIP_NO_INDEX=1 PIP_FIND_LINKS=$WHEELHOUSE \
		pipx install --pip-args="--no-index --find-links $WHEELHOUSE" "$WHEEL_X64" >"$WORK/pipx.log" 2>&1; then
		pass "pipx: offline install of the x86-64 wheel"
		check_install pipx "$WORK/pipx-bin/pyattach" "$(echo "$WORK"/pipx/venvs/pyattach/lib/python3*/site-packages)"
	else
		cat "$WORK/pipx.log" >&2
		fail "pipx: offline install"
	fi
else
	skip "pipx (not installed: apt-get install pipx, which scripts/setup.sh --tests does)"
fi

# 6. uv tool install, offline (uv itself comes from PyPI once).
UV_VENV=$CACHE/uv-$UV_VERSION
if [ ! -x "$UV_VENV/bin/uv" ]; then
	say "installing uv $UV_VERSION into $UV_VENV"
	rm -rf "$UV_VENV"
	if ! { "$PYTHON" -m venv "$UV_VENV" &&
		"$UV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >"$WORK/uv-install.log" 2>&1; }; then
		cat "$WORK/uv-install.log" >&2 || true
		rm -rf "$UV_VENV"
	fi
fi
if [ -x "$UV_VENV/bin/uv" ]; then
	say "uv tool install (uv $UV_VERSION) --offline --no-index --find-links $WHEELHOUSE"
	if UV_TOOL_DIR=$WORK/uv-tools UV_TOOL_BIN_DIR=$WORK/uv-bin UV_CACHE_DIR=$WORK/uv-cache UV_PYTHON_DOWNLOADS=never \
		"$UV_VENV/bin/uv" tool install --offline --no-index --find-links "$WHEELHOUSE" --python "$PYTHON" "$WHEEL_X64" >"$WORK/uv.log" 2>&1; then
		pass "uv: offline tool install of the x86-64 wheel"
		check_install uv "$WORK/uv-bin/pyattach" "$(echo "$WORK"/uv-tools/pyattach/lib/python3*/site-packages)"
	else
		cat "$WORK/uv.log" >&2
		fail "uv: offline tool install"
	fi
else
	skip "uv (could not install uv $UV_VERSION from PyPI)"
fi

say "ran: ${#PASSED[@]} checks passed, ${#FAILED[@]} failed"
((${#SKIPPED[@]} == 0)) || say "skipped: ${SKIPPED[*]}"
echo "dist: ${#PASSED[@]} passed, ${#FAILED[@]} failed, ${#SKIPPED[@]} skipped"
((${#FAILED[@]} == 0))
