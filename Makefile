# Smart grid blockchain simulator.
#
#   make            build everything into build/ (binaries in bin/)
#   make test       include layering, unit tests, fuzz-corpus replay, integration tests
#   make sanitize   unit tests and corpus replay under ASan + UBSan
#   make fuzz       libFuzzer targets (clang); make fuzz-run FUZZ_SECONDS=N
#   make bench      benchmarks (never part of the tests); CPUMINER=PATH adds
#                   cpuminer-opt side by side
#   make run        the default simulation
#
# SANITIZE=address,undefined builds into build-san/ instead of build/.

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
PKG_CONFIG ?= pkg-config
ifeq ($(origin NVCC),undefined)
NVCC := $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
endif

ifdef SANITIZE
B := build-san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B := build
SAN_FLAGS :=
endif

PKGS := libuv libsodium libcrypto sqlite3
# Only the launcher reads JSON (run.json, for its report): only it links jansson.
JSON_PKG := jansson
MYSQL_PKG := $(shell $(PKG_CONFIG) --exists libmariadb 2>/dev/null && echo libmariadb || \
               ($(PKG_CONFIG) --exists mysqlclient 2>/dev/null && echo mysqlclient))
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) $(JSON_PKG) $(MYSQL_PKG) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) $(MYSQL_PKG) 2>/dev/null)
JSON_LIBS := $(shell $(PKG_CONFIG) --libs $(JSON_PKG) 2>/dev/null)
# The live web page (launcher --web): only the launcher links libmicrohttpd.
WEB_PKG := libmicrohttpd
WEB_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(WEB_PKG) 2>/dev/null)
WEB_LIBS := $(shell $(PKG_CONFIG) --libs $(WEB_PKG) 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

OPT ?= -O2
CFLAGS_BASE := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -MMD -MP -pthread \
               -I. $(PKG_CFLAGS) $(SAN_FLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm -ldl

PROTO_SRC := $(wildcard proto/*.c)
COMMON_SRC := $(wildcard common/*/*.c)
KERNEL_SRC := $(wildcard kernels/*.c)
CUDA_SRC := $(wildcard kernels/*.cu)
LIB_SRC := $(PROTO_SRC) $(COMMON_SRC) $(KERNEL_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)

# nvcc may be a wrapper script outside the toolkit (/usr/local/bin/nvcc), so
# ask nvcc itself where it lives rather than trusting its path.
ifneq ($(NVCC),)
ifneq ($(CUDA_SRC),)
CUDA_HOME := $(shell $(NVCC) --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | \
               sed -n 's|^\#\$$ _HERE_=\(.*\)/bin/*$$|\1|p' | head -n 1)
ifeq ($(CUDA_HOME),)
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
endif
CUDA_LIBDIR := $(patsubst %/,%,$(dir $(firstword $(wildcard \
                 $(addsuffix /libcudart.so,$(CUDA_HOME)/lib64 $(CUDA_HOME)/lib \
                 $(CUDA_HOME)/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu)))))
endif
endif

# The CUDA kernel is a shared object of its own, loaded with dlopen only by
# a program asked for a GPU (kernels/kern_gpu.h): nothing else links the CUDA
# runtime or libstdc++.  The runtime is linked into it statically, so the
# file needs only the driver (libcuda) on the machine that runs it.
ifneq ($(CUDA_LIBDIR),)
HAVE_CUDA := 1
CUDA_SO := $(B)/lib/sgcuda.so
NVCC_FLAGS ?= -O3 -std=c++17 -I. -Xcompiler -Wall,-Wextra \
              -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -gencode arch=compute_90,code=compute_90
endif
CFLAGS := $(CFLAGS_BASE) $(CFLAGS_EXTRA)

LIB := $(B)/libsg.a
BINS := bin/sgnode bin/sgoperator bin/launcher
NODE_SRC := $(wildcard node/*.c)
OPERATOR_SRC := $(wildcard operator/*.c)
LAUNCHER_SRC := $(wildcard launcher/*.c)
# The run's SQL store: only the launcher (and its tests and tools) link it.
DB_SRC := $(wildcard launcher/db/*.c)
DB_LIB := $(B)/libsgdb.a

UNIT_SRC := $(wildcard tests/unit/check_*.c)
UNIT_SUITES := $(patsubst tests/unit/check_%.c,%,$(UNIT_SRC))
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/%.o) $(B)/tests/unit/run.o $(B)/tests/unit/testutil.o
UNIT_BIN := $(B)/tests/unit_tests
# check_launcher_{opts,ingest}.c test launcher modules, which live in
# launcher/ (not in the library): link them in.
UNIT_OBJ += $(B)/launcher/opts.o $(B)/launcher/ingest.o
UNIT_OBJ += $(B)/launcher/hosts.o $(B)/launcher/slurm.o $(B)/launcher/analyze_adv.o
# analyze_adv.o calls the transaction-side sections (check_launcher_analyze_adv_tx.c too).
UNIT_OBJ += $(B)/launcher/analyze_adv_tx.o
# The live page's snapshot (check_launcher_web.c), with the fleet it reads;
# jansson comes along (web.c, the HTTP side, stays out).
UNIT_OBJ += $(B)/launcher/web_snap.o $(B)/launcher/fleet.o $(B)/launcher/fleet_poll.o
# The scenario file and its runner's checks (check_launcher_scenario.c).
UNIT_OBJ += $(B)/launcher/scenario.o $(B)/launcher/scen_run.o

# Small programs the integration tests drive (tests/tools/NAME.c).
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
REPLAY_BINS := $(FUZZ_NAMES:%=$(B)/tests/replay_%)
FUZZ_SECONDS ?= 20

.PHONY: all test test-unit test-replay test-integration check-layers sanitize fuzz fuzz-run \
        bench run deps deps-tests clean cuda-notice

all: cuda-notice $(LIB) $(if $(NODE_SRC),bin/sgnode) $(if $(OPERATOR_SRC),bin/sgoperator) \
     $(if $(LAUNCHER_SRC),bin/launcher) $(if $(CUDA_SO),bin/sgcuda.so)

cuda-notice:
ifeq ($(NVCC),)
	@echo "notice: nvcc not found; building without the CUDA kernel (CPU mining only)"
else ifeq ($(HAVE_CUDA),)
	@echo "notice: $(NVCC) found but no libcudart.so under $(CUDA_HOME); building without the CUDA kernel (CPU mining only)"
endif

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -Xcompiler -fPIC -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(CUDA_SO): $(CUDA_SRC:%.cu=$(B)/%.cu.o)
	@mkdir -p $(dir $@)
	$(NVCC) -shared -cudart static -o $@ $^

# Installed next to the binaries: kern_gpu_open looks there first.
bin/sgcuda.so: $(CUDA_SO)
	@mkdir -p bin
	cp $< $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

bin/sgnode: $(NODE_SRC:%.c=$(B)/%.o) $(LIB)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bin/sgoperator: $(OPERATOR_SRC:%.c=$(B)/%.o) $(LIB)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(DB_LIB): $(DB_SRC:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

bin/launcher: $(LAUNCHER_SRC:%.c=$(B)/%.o) $(DB_LIB) $(LIB)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(JSON_LIBS) $(WEB_LIBS)

# The page's files go into the binary as byte arrays (launcher/web/*).
WEB_ASSETS := launcher/web/index.html launcher/web/app.js launcher/web/app.css \
              launcher/web/icon.svg
$(B)/gen/web_assets.h: $(WEB_ASSETS) scripts/embed
	@mkdir -p $(dir $@)
	bash scripts/embed $(WEB_ASSETS) >$@.tmp && mv $@.tmp $@
$(B)/launcher/web.o: $(B)/gen/web_assets.h
$(B)/launcher/web.o: CFLAGS += -I$(B)/gen $(WEB_CFLAGS)

# The Check runner calls <module>_suite() for every tests/unit/check_<module>.c.
$(B)/tests/unit/suites.h: $(UNIT_SRC)
	@mkdir -p $(dir $@)
	@printf 'SUITE(%s)\n' $(UNIT_SUITES) > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(B)/tests/unit/run.o: tests/unit/run.c $(B)/tests/unit/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -I$(B)/tests/unit -c $< -o $@

$(B)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJ) $(DB_LIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS) $(JSON_LIBS)

# Each fuzz target also links with a plain main that replays its corpus, so
# the corpus runs as an ordinary test without clang or libFuzzer.
$(B)/tests/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay_main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

test-unit: all $(UNIT_BIN)
	SG_TEST_BIN=$(CURDIR)/bin $(UNIT_BIN)

test-replay: $(REPLAY_BINS)
	@for t in $(FUZZ_NAMES); do \
	    $(B)/tests/replay_$$t tests/fuzz/corpus/$$t || exit 1; done

$(B)/tests/tools/%: tests/tools/%.c $(DB_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(DB_LIB) $(LIB) $(LDLIBS)

test-integration: all $(TOOL_BINS)
	@bash tests/integration/run.sh

# Includes point only down the map (docs/ARCHITECTURE.md); cheap, so first.
check-layers:
	@bash scripts/check-layers

# test and run first install what is missing, then re-enter make so the
# pkg-config flags are read with the packages present.
test: check-layers deps-tests
	@$(MAKE) --no-print-directory test-unit test-replay test-integration
	@echo "make test: all suites passed"

sanitize: deps-tests
	@$(MAKE) --no-print-directory SANITIZE=address,undefined test-unit test-replay

# libFuzzer builds: the library again with clang and the fuzzer's coverage.
FZ := build-fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -I. $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

# Decoders live in proto/, the genesis, market and profile parsers and the
# handshake in common/: only what they need is instrumented, which keeps the
# clang build short (no SIMD kernels, no libuv layer).
FUZZ_LIB_SRC := $(PROTO_SRC) common/base/err.c common/base/hmap.c common/base/units.c \
                common/core/hash.c common/core/pow.c common/core/params.c common/core/ledger.c \
                common/core/tx.c common/core/market.c common/core/asert.c common/link/secure.c \
                common/model/energy.c
$(FZ)/fuzz_%: $(FZ)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_SRC:%.c=$(FZ)/%.o)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lpthread -lm

fuzz: $(FUZZ_NAMES:%=$(FZ)/fuzz_%)

fuzz-run: fuzz
	@for t in $(FUZZ_NAMES); do \
	    mkdir -p $(FZ)/corpus/$$t; \
	    echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
	    $(FZ)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	        $(FZ)/corpus/$$t tests/fuzz/corpus/$$t >$(FZ)/$$t.log 2>&1 || \
	        { tail -n 40 $(FZ)/$$t.log; exit 1; }; \
	    tail -n 1 $(FZ)/$$t.log; done

# Benchmarks: tests/bench/bench_<name>.c -> $(B)/tests/bench_<name>, run by
# scripts/bench.sh.
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:tests/bench/%.c=$(B)/tests/%)

$(B)/tests/bench_%: $(B)/tests/bench/bench_%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench: all $(BENCH_BINS)
	@B=$(B) CPUMINER=$(CPUMINER) bash scripts/bench.sh

run: deps
	@$(MAKE) --no-print-directory all
	./bin/launcher

deps:
	@bash scripts/install-deps

deps-tests:
	@bash scripts/install-deps --tests

clean:
	rm -rf build build-san build-fuzz bin

# Objects made on the way to a target are kept: rebuilding them every run
# (fuzz and replay builds) would waste minutes.
.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
