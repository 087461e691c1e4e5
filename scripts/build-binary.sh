#!/usr/bin/env bash
# build-binary.sh GOARCH OUT builds pyattach as it is released: one static
# Linux executable (no cgo, so it runs on any Linux of that architecture,
# glibc or musl, whatever its age), with no build paths in it and no symbol
# table, into OUT. `make dist` (scripts/dist.sh) builds the release binaries
# with it, and so does the wheels' build hook (python/hatch_build.py): the
# flags are written here only. The version comes from the VERSION file,
# which main.go embeds.
set -euo pipefail
if [ $# -ne 2 ]; then
	echo "usage: $0 GOARCH OUT   (GOARCH: amd64 or arm64)" >&2
	exit 2
fi
goarch=$1
out=$(realpath -m "$2")
cd "$(dirname "$0")/.."
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch go build -trimpath -ldflags='-s -w' -o "$out" .
