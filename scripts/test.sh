#!/usr/bin/env bash
# Runs pyattach's whole test suite (after scripts/setup.sh): static checks,
# unit tests, the end-to-end suite against every interpreter found, short
# fuzzing runs, and the VS Code extension's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"

step() { printf '\n== %s\n' "$*"; }

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on: $unformatted" >&2
	exit 1
fi
go vet ./...
staticcheck ./...

step "unit tests"
go test -count=1 $(go list ./... | grep -v /e2e)

step "end-to-end tests (real gdb, real debugpy, every interpreter found)"
go test -count=1 -v ./e2e/ 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok|e2e:)|_test.go'
test "${PIPESTATUS[0]}" -eq 0

step "fuzzing (10s per target)"
for target in ./gdbmi:FuzzParseRecord ./dapio:FuzzApply ./dapio:FuzzReadFrame ./adapter:FuzzParseAttachArgs ./adapter:FuzzServe; do
	go test -run='^$' -fuzz="^${target#*:}\$" -fuzztime=10s "${target%%:*}"
done

if [ -f vscode-extension/package.json ]; then
	step "VS Code extension"
	(cd vscode-extension && npm test)
fi
