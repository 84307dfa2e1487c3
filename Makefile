# Thin wrapper over the scripts and CMake presets; the README's commands
# are the scripts themselves.
.PHONY: all setup build asan fuzz run test bench clean
all: build
setup:
	./scripts/setup.sh
build:
	./scripts/build.sh default
asan:
	./scripts/build.sh asan
fuzz:
	./scripts/build.sh fuzz
run:
	./scripts/run.sh
test:
	./scripts/test.sh
bench: build
	./build/default/bench/jose_bench
clean:
	rm -rf build
