# Makefile: build, install and test walcast
#
# Every target is short; the work is in scripts/ and regress/run.  Targets
# that build or test install missing Debian packages first (apt-get, via
# scripts/ensure-packages).

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG

FORMAT_FILES = $(wildcard plugin/*.c plugin/*.h consumer/*.c consumer/*.h)

.PHONY: all install test installcheck demo bench format clean

all:
	@scripts/ensure-packages build
	$(MAKE) -C plugin PG_CONFIG=$(PG_CONFIG)
	$(MAKE) -C consumer PG_CONFIG=$(PG_CONFIG)

# the plugin into the server's directories, the program into $(prefix)/bin
install: all
	$(MAKE) -C plugin install PG_CONFIG=$(PG_CONFIG)
	$(MAKE) -C consumer install PG_CONFIG=$(PG_CONFIG)

# regression and isolation tests against a temporary server
test:
	regress/run

installcheck: test

# a throwaway server, a few changes, and the decoded stream
demo:
	scripts/demo

# walcast beside its peers on the same WAL (bench/README.md); a few minutes.
# The full run: make bench BENCH_ARGS="--scale 1000000"
bench:
	bench/run $(BENCH_ARGS)

format:
	clang-format -i $(FORMAT_FILES)

clean:
	@if [ -x $(PG_CONFIG) ]; then $(MAKE) -C plugin clean PG_CONFIG=$(PG_CONFIG); fi
	$(MAKE) -C consumer clean
	$(MAKE) -C examples/cpp clean
	rm -rf gen regress/results regress/output_iso \
		regress/regression.diffs regress/regression.out
