#!/usr/bin/env bash
# dist.sh (`make dist`) builds pyattach's release artifacts into dist/,
# replacing what was there:
#
#   pyattach-linux-amd64, pyattach-linux-arm64
#       the static binaries (scripts/build-binary.sh)
#   pyattach-VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   pyattach-VERSION-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl
#       the wheels (`pipx install pyattach`): python/, built by hatchling
#   pyattach-linux-x64-VERSION.vsix, pyattach-linux-arm64-VERSION.vsix
#       the VS Code extension, one package per platform, each with its binary
#   SHA256SUMS
#       the SHA-256 sum of each of the above (`sha256sum -c SHA256SUMS`)
#
# The version is the VERSION file's. The wheels are built in a virtual
# environment of Debian's python3 (python3-venv) holding the pinned build
# tools below, made once in ${PYATTACH_CACHE:-~/.cache/pyattach}/wheel-build;
# the packages come from PyPI the first time. The .vsix files are packaged
# from a copy of vscode-extension/ (its npm packages linked in), so a
# package built here never mixes with one that `npm test` builds there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

HATCHLING_VERSION=1.33.0
BUILD_VERSION=1.6.1
PYTHON=${PYATTACH_DIST_PYTHON:-/usr/bin/python3}
CACHE=${PYATTACH_CACHE:-$HOME/.cache/pyattach}
BUILD_VENV=$CACHE/wheel-build
VERSION=$(tr -d '[:space:]' <VERSION)
DIST=$ROOT/dist

say() { printf 'dist: %s\n' "$*"; }
die() {
	printf 'dist: error: %s\n' "$*" >&2
	exit 1
}

START=$(date +%s)
STAGE=
cleanup() {
	[ -z "$STAGE" ] || rm -rf "$STAGE"
	rm -rf "$DIST/.tmp"
}
trap cleanup EXIT

# ensure_build_venv makes $BUILD_VENV a virtual environment with the pinned
# hatchling and build, unless it is one already (its .complete names them).
ensure_build_venv() {
	local want
	want="hatchling $HATCHLING_VERSION, build $BUILD_VERSION, $("$PYTHON" --version 2>&1)"
	if [ -f "$BUILD_VENV/.complete" ] && [ "$(cat "$BUILD_VENV/.complete")" = "$want" ]; then
		return
	fi
	mkdir -p "$CACHE"
	exec 8>"$BUILD_VENV.lock"
	flock 8 || die "cannot lock $BUILD_VENV.lock"
	if [ -f "$BUILD_VENV/.complete" ] && [ "$(cat "$BUILD_VENV/.complete")" = "$want" ]; then
		return
	fi
	say "making the wheel build environment $BUILD_VENV ($want)"
	rm -rf "$BUILD_VENV"
	"$PYTHON" -m venv "$BUILD_VENV" || die "$PYTHON cannot make a virtual environment: install python3-venv (scripts/setup.sh --tests does)"
	"$BUILD_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
		"hatchling==$HATCHLING_VERSION" "build==$BUILD_VERSION"
	echo "$want" >"$BUILD_VENV/.complete"
}

rm -rf "$DIST"
mkdir -p "$DIST/.tmp"
# The builds' temporary files (go's, pip's, the wheel hook's) go there, and
# with it whatever a failed build leaves.
export TMPDIR=$DIST/.tmp

declare -A VSIX_TARGET=([amd64]=linux-x64 [arm64]=linux-arm64)
for arch in amd64 arm64; do
	say "building the static binary for linux/$arch"
	scripts/build-binary.sh "$arch" "$DIST/pyattach-linux-$arch"
done

ensure_build_venv
for arch in amd64 arm64; do
	say "building the wheel for linux/$arch"
	PYATTACH_GOARCH=$arch "$BUILD_VENV/bin/python" -m build --wheel --no-isolation --outdir "$DIST" python/ >"$DIST/.wheel-$arch.log" 2>&1 || {
		cat "$DIST/.wheel-$arch.log" >&2
		die "building the $arch wheel failed"
	}
	rm -f "$DIST/.wheel-$arch.log"
done

if [ ! -x vscode-extension/node_modules/.bin/vsce ]; then
	say "installing the VS Code extension's npm packages"
	(cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error)
fi
STAGE=$(mktemp -d "$DIST/.vscode-extension-XXXXXX")
cp -r vscode-extension/{package.json,README.md,.vscodeignore,tsconfig.json,src,scripts} "$STAGE/"
ln -s "$ROOT/vscode-extension/node_modules" "$STAGE/node_modules"
node -e '
  const fs = require("fs"), file = process.argv[1];
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  manifest.version = process.argv[2];
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
' "$STAGE/package.json" "$VERSION"
for arch in amd64 arm64; do
	target=${VSIX_TARGET[$arch]}
	say "packaging the VS Code extension for $target"
	(cd "$STAGE" && PYATTACH_BIN=$DIST/pyattach-linux-$arch PYATTACH_VSIX_TARGET=$target \
		npm run --silent package -- --out "$DIST/pyattach-$target-$VERSION.vsix") >"$DIST/.vsix-$target.log" 2>&1 || {
		cat "$DIST/.vsix-$target.log" >&2
		die "packaging the $target .vsix failed"
	}
	rm -f "$DIST/.vsix-$target.log"
done
rm -rf "$STAGE" "$DIST/.tmp"
STAGE=

(cd "$DIST" && sha256sum -- * >SHA256SUMS)
say "built in $(($(date +%s) - START))s, in $DIST:"
(cd "$DIST" && ls -l -- *)
