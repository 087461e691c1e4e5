# The two commands a newcomer needs (see README.md):
#   make demo   set up, then attach to a sample service, stop at a breakpoint, detach
#   make test   set up, then run the whole test suite
# and for releases:
#   make dist   the static binaries, the wheels and the .vsix files, in dist/
.PHONY: setup build demo test bench dist

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

dist:
	scripts/dist.sh
