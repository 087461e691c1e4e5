module github.com/pyattach/pyattach

go 1.26.0

require (
	github.com/google/go-dap v0.12.0
	github.com/sourcegraph/jsonrpc2 v0.2.3
	golang.org/x/sys v0.50.0
)

require golang.org/x/arch v0.33.0
