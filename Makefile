# mailward - top-level build.  See README.md: `make run`, `make check`.
#
#   make            build build/release/mailward
#   make run        install missing packages, build, start the demo gateway
#   make check      install, build, unit + integration tests, then the same
#                   suite under ASan+UBSan, then a short run of every fuzz target
#   make fuzz       build libFuzzer targets (FUZZ_SECONDS=600 make fuzz-run)
#   make bench      SMTP throughput side by side with Postfix
#   make docs       regenerate docs/config.md from the configuration table

BUILD ?= build/release
# Debian's interpreter: the test tools (python3-pytest) are Debian packages.
PYTHON ?= /usr/bin/python3
SAN ?= 0
CC ?= cc
# Compiles run in parallel; tests do not (their output stays readable).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

PKGS := libevent libevent_openssl libevent_pthreads openssl sqlite3 inih jansson gmime-3.0 libpsl liblzma zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wformat-truncation=0 -Wno-unused-parameter -Wvla \
	-Wimplicit-fallthrough -Wundef
CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Isrc $(WARN) -g -pthread
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
else
CFLAGS_OPT := -O2
LDFLAGS_SAN :=
endif
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS_OPT) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pthread $(LDFLAGS_SAN) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lresolv -lm

LIB_SRCS := $(filter-out src/main/main.c, $(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps deps-test run check test build-tests unit integration asan-check fuzz fuzz-run fuzz-smoke bench docs clean

all: $(BUILD)/mailward

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh build test

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmailward.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mailward: $(BUILD)/src/main/main.o $(BUILD)/libmailward.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmailward.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmailward.a $(ALL_LDFLAGS) $(LIBS) -lcmocka

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@scripts/demo.sh $(BUILD)/mailward

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $(SAN_ENV) $$t; done

# Under sanitizers the server reports to stderr and exits non-zero; the test
# fixture fails a test whose server log holds a sanitizer report.
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MAILWARD_SANITIZED=$(SAN)

integration: $(BUILD)/mailward
	$(SAN_ENV) MAILWARD_BIN=$(abspath $(BUILD)/mailward) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test: unit integration

build-tests: $(BUILD)/mailward $(UNIT_BINS)

check: deps-test
	@$(MAKE) --no-print-directory -j$(JOBS) build-tests
	@$(MAKE) --no-print-directory docs-check
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/asan SAN=1 build-tests
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test
	@$(MAKE) --no-print-directory fuzz-smoke

docs: $(BUILD)/mailward
	$(BUILD)/mailward config-doc > docs/config.md

docs-check: $(BUILD)/mailward
	@$(BUILD)/mailward config-doc | cmp -s - docs/config.md || \
		{ echo "docs/config.md is stale: run 'make docs'"; exit 1; }

# ---- fuzzing (clang + libFuzzer) ----------------------------------------
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -DMW_FUZZING=1 $(PKG_CFLAGS)
FUZZ_LIB_SRCS := $(filter-out src/main/main.c, $(LIB_SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_SECONDS ?= 600

# -MMD: a changed header rebuilds the objects that include it (a stale
# object with an old struct layout gives false sanitizer reports).
$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	clang $(FUZZ_CFLAGS) -MMD -MP -MF $@.d -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(PKG_LIBS) -lresolv -lm -pthread

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_BINS:=.d)

fuzz: deps
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_BINS)

# Long runs for the record (exec counts go in the issue note).
fuzz-run: fuzz
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p tests/fuzz/corpus-$$n; \
		echo "== $$n $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -timeout=5 -print_final_stats=1 \
			tests/fuzz/corpus-$$n tests/fuzz/seeds/$$n 2>&1 | tail -15; done

# A short run in `make check` so a broken harness is caught on every change.
fuzz-smoke: fuzz
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); echo "== fuzz smoke $$n"; \
		mkdir -p $(FUZZ_BUILD)/corpus-$$n; \
		$$f -max_total_time=5 -rss_limit_mb=1024 -timeout=5 $(FUZZ_BUILD)/corpus-$$n tests/fuzz/seeds/$$n \
			2>&1 | tail -2; done

bench: all
	@scripts/deps.sh bench
	bench/smtp $(BUILD)/mailward

# Classification accuracy (bench/eval) and content-scan speed (bench/scan) of
# mailward side by side with bogofilter and Rspamd (and SpamAssassin with
# SA=1 or SYSTEMS naming it): docs/evaluation.md.
.PHONY: eval bench-scan
EVAL_SA := $(if $(or $(filter 1,$(SA)),$(findstring spamassassin,$(SYSTEMS))),sa)
eval:
	@scripts/deps.sh bench $(EVAL_SA)
	bench/eval

bench-scan:
	@scripts/deps.sh bench $(EVAL_SA)
	bench/scan

# Near-duplicate fingerprints: index speed at 1M entries and near-duplicate
# shares on the SpamAssassin split (bench/fuzzy, docs/fingerprint.md).
.PHONY: bench-fuzzy
$(BUILD)/bench/fuzzy_bench: bench/fuzzy_bench.c $(BUILD)/libmailward.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmailward.a $(ALL_LDFLAGS) $(LIBS)

bench-fuzzy: $(BUILD)/bench/fuzzy_bench
	bench/fuzzy

# Keep fuzz objects between runs (they are intermediates of a pattern chain).
.SECONDARY:

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(BUILD)/src/main/main.d
