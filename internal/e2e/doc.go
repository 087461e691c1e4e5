// Package e2e is pyattach's end-to-end suite: real gdb, real debugpy and
// real Python processes, driven over DAP by package daptest as an editor
// would drive them. Its tests are behind the e2e build tag, so that a plain
// `go test ./...` runs the unit tests only; `make test` runs them with
// `go test -tags e2e ./internal/e2e/`.
package e2e
