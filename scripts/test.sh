#!/usr/bin/env bash
# Runs pyattach's whole test suite (after scripts/setup.sh): static checks,
# unit tests, the end-to-end suite against every interpreter found, short
# fuzzing runs, the release artifacts (make dist) installed as users would,
# and the VS Code extension's tests, in a real VS Code too.
set -euo pipefail
cd "$(dirname "$0")/.."
GOPATH_BIN="$(go env GOPATH)/bin"
export PATH="$PATH:$GOPATH_BIN"

step() { printf '\n== %s\n' "$*"; }

# Our packages: not the Go that npm packages ship under node_modules.
mapfile -t packages < <(go list ./... | grep -v /node_modules/)
mapfile -t unit_packages < <(printf '%s\n' "${packages[@]}" | grep -v /e2e)
mapfile -t dirs < <(go list -f '{{.Dir}}' "${packages[@]}")

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l "${dirs[@]}")
if [ -n "$unformatted" ]; then
	echo "gofmt needed on: $unformatted" >&2
	exit 1
fi
# The end-to-end suite is behind the e2e build tag (a plain `go test ./...`
# runs the unit tests only); check its code too.
go vet -tags e2e "${packages[@]}"
staticcheck -tags e2e "${packages[@]}"
# The arm64 build too: the aarch64 trampoline's files (*_arm64.go).
GOARCH=arm64 go vet -tags e2e "${packages[@]}"
GOARCH=arm64 staticcheck -tags e2e "${packages[@]}"

step "unit tests"
go test -count=1 "${unit_packages[@]}"
# The aarch64 trampoline's builder and golden listing, as arm64 code under
# qemu-user (the tests that attach to processes need a real arm64 kernel:
# they run in the emulated machine below).
if command -v qemu-aarch64-static >/dev/null 2>&1; then
	GOARCH=arm64 go test -count=1 -exec qemu-aarch64-static -run 'TestA64|TestTrampolineListing|TestSignalFrame|TestFixedCodeFits|TestChoose|TestParseStrategy|TestIsMainThread' ./internal/inject/
else
	echo "qemu-aarch64-static missing (scripts/setup.sh --tests installs it): the arm64 unit tests did not run" >&2
	exit 1
fi

step "end-to-end tests (real gdb, real debugpy, every interpreter found)"
go test -tags e2e -count=1 -timeout=45m -v -skip '^TestArm64VM$' ./internal/e2e/ 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok|e2e:)|_test.go'
test "${PIPESTATUS[0]}" -eq 0

# A count, not a duration: with -fuzztime=10s, Go 1.26's fuzzing coordinator
# can fail a target with "context deadline exceeded" as the time runs out
# (golang/go#75804, fixed in Go 1.27). 400,000 inputs take 5-12 s here.
step "fuzzing (400,000 inputs per target)"
for target in ./gdbmi:FuzzParseRecord ./internal/dapio:FuzzApply ./internal/dapio:FuzzReadFrame ./adapter:FuzzParseAttachArgs ./adapter:FuzzServe; do
	go test -run='^$' -fuzz="^${target#*:}\$" -fuzztime=400000x "${target%%:*}"
done

step "release artifacts: make dist, then install them offline (pip, pipx, uv) and run them"
scripts/dist-test.sh

step "arm64: the e2e core in an emulated Debian arm64 machine with the arm64 release artifacts of make dist (qemu TCG; skips if scripts/arm64-vm.sh has not built it)"
PYATTACH_DIST="$PWD/dist" go test -tags e2e -count=1 -timeout=20m -v -run '^TestArm64VM$' ./internal/e2e/ 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok|e2e:)|_test.go'
test "${PIPESTATUS[0]}" -eq 0

if [ -f vscode-extension/package.json ]; then
	step "VS Code extension"
	(cd vscode-extension && npm test)
	step "VS Code in a browser (code-server, headless Chromium), with the linux-x64 .vsix from make dist"
	PYATTACH_VSIX="dist/pyattach-linux-x64-$(tr -d '[:space:]' <VERSION).vsix" scripts/code-server-test.sh
fi
