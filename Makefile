# The two commands a newcomer needs (see README.md):
#   make demo   set up, then attach to a sample service, stop at a breakpoint, detach
#   make test   set up, then run the whole test suite
.PHONY: setup build demo test bench

setup:
	scripts/setup.sh

build:
	go build -o bin/pyattach .

demo: setup
	bin/pyattach demo

test:
	scripts/setup.sh --tests
	scripts/test.sh

bench: setup
	go run ./internal/bench
