# zoneci: a plain Makefile. `make` builds build/zoneci; `make check` installs missing
# Debian packages (as root), then builds and runs every suite twice (plain, then under
# AddressSanitizer + UndefinedBehaviorSanitizer) and smoke-runs the fuzz targets.

CC ?= cc
WERROR ?= 1
SANITIZER ?=
CFLAGS ?=
LDFLAGS ?=

# Debian packages the build, the tests and `make run` need.
DEBS := build-essential pkg-config libmicrohttpd-dev libhiredis-dev libgit2-dev libjansson-dev \
        libicu-dev check libcurl4-openssl-dev libssl-dev libpg-query-dev libjwt-dev \
        redis-server redis-sentinel tzdata icu-devtools git clang libclang-rt-14-dev lua5.1 \
        python3-yaml
PKGS := libmicrohttpd hiredis libgit2 jansson icu-uc icu-i18n libcurl openssl libjwt

ifeq ($(SANITIZER),)
BUILD := build
SANFLAGS :=
else
BUILD := build/san
SANFLAGS := -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
            -Wundef
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

# pkg-config runs once, on first use, so that `make deps` can install it first.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)
CHECK_LIBS = $(eval CHECK_LIBS := $$(shell pkg-config --libs check))$(CHECK_LIBS)

# Where `make install` puts the binary and the generated time-zone data, which the binary
# looks for there (it also looks next to itself, in $(BUILD)/tzdata).
PREFIX ?= /usr/local
TZDATA_INSTALL_DIR = $(PREFIX)/share/zoneci/tzdata

ZCFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g $(WARNINGS) $(SANFLAGS) -I. \
          -DZONECI_TZDATA_INSTALL_DIR='"$(TZDATA_INSTALL_DIR)"' \
          $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ZLIBS = $(PKG_LIBS) -lpg_query -lpthread -lm

MODULES := core scheduler policies notifier webhooks
LIB_SRC := $(wildcard $(addsuffix /*.c,$(MODULES)))
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/*/test_*.c) $(wildcard tests/support/*.c) tests/runner.c
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
SUITES = $(sort $(patsubst tests/%.c,%,$(foreach f,$(TEST_SRC),$(if $(findstring /test_,$(f)),$(f)))))

.PHONY: docs-check
# The docs stand alone: docs/openapi.yaml is well-formed OpenAPI 3.1 (its paths are held to
# the server's routes by the webhooks_routes suite), every relative link of README.md and
# docs/*.md resolves inside the tree, and no doc or source comment names a file outside it
# (the tests and bench/webhook/gen_bodies.py may load the shared fixtures when present).
docs-check:
	python3 tests/docs/check_openapi.py docs/openapi.yaml
	python3 tests/docs/check_links.py .
	@! grep -rnE '\.\./shared|shared/(SPEC|reference|fixtures)|\bSPEC\b' README.md docs examples \
	  $(MODULES) cli bench/RESULTS.md || { echo "docs-check: the lines above refer outside the tree" >&2; exit 1; }
	@echo "docs-check: self-contained"

.PHONY: FORCE all check test run clean format headercheck lint-lua deps fuzz fuzz-smoke bench \
        bench-build install
all: deps
	@$(MAKE) --no-print-directory $(BUILD)/zoneci $(BUILD)/tzdata/zoneci-tzdata.stamp

# ICU's time-zone resource generated from the system's tzdata (zoneci regenerates it into
# its cache_dir by itself when the system's tzdata is upgraded later).
SYSTEM_TZDATA := $(wildcard $(or $(TZDIR),/usr/share/zoneinfo)/tzdata.zi)
$(BUILD)/tzdata/zoneci-tzdata.stamp: $(BUILD)/zoneci $(SYSTEM_TZDATA)
	$(BUILD)/zoneci tzdata generate --out $(BUILD)/tzdata

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(TZDATA_INSTALL_DIR)
	install -m 755 $(BUILD)/zoneci $(DESTDIR)$(PREFIX)/bin/zoneci
	install -m 644 $(BUILD)/tzdata/zoneinfo64.res $(BUILD)/tzdata/zoneci-tzdata.stamp \
	  $(DESTDIR)$(TZDATA_INSTALL_DIR)/

$(BUILD)/zoneci: $(CLI_OBJ) $(BUILD)/libzoneci.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/libzoneci.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ZCFLAGS) -c -o $@ $<

# The store's Lua (scheduler/lua/*.lua) as C strings, for scripts.c. Regenerated on every
# run but replaced only when its text changes, so that adding, editing or removing a .lua
# file rebuilds scripts.c, and nothing else does.
LUA_GEN := gen/scripts_lua.h
$(BUILD)/$(LUA_GEN): FORCE
	@scheduler/lua/embed.sh $@ scheduler/lua
$(BUILD)/obj/scheduler/scripts.o: $(BUILD)/$(LUA_GEN)
$(BUILD)/obj/scheduler/scripts.o: ZCFLAGS += -I$(BUILD)/gen

# The runner adds every suite: tests/<module>/test_<file>.c exports suite_<module>_<file>().
$(BUILD)/suites.h: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' $(subst /test_,_,$(SUITES)) | sed 's/.*/ZONECI_SUITE(&)/' > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/obj/tests/runner.o: $(BUILD)/suites.h
$(BUILD)/obj/tests/%.o: ZCFLAGS += -I$(BUILD) -Wno-missing-prototypes

$(BUILD)/zoneci-tests: $(TEST_OBJ) $(BUILD)/libzoneci.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(ZLIBS)

# Runs the suites against this build's binary. CK_FORK=no under sanitizers so that a
# report aborts the run instead of one forked child.
test: $(BUILD)/zoneci $(BUILD)/zoneci-tests $(BUILD)/tzdata/zoneci-tzdata.stamp
	ZONECI_BIN=$(BUILD)/zoneci $(if $(SANITIZER),CK_FORK=no) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(BUILD)/zoneci-tests

check: deps
	@$(MAKE) --no-print-directory lint-lua docs-check
	@$(MAKE) --no-print-directory test bench-build
	@$(MAKE) --no-print-directory SANITIZER=address,undefined test
	@$(MAKE) --no-print-directory fuzz-smoke

# libFuzzer targets: clang, its own build directory, every library source.
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -fsanitize=fuzzer,address,undefined \
              -I. -I$(FUZZ_BUILD)/gen $(PKG_CFLAGS)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
$(FUZZ_BUILD)/$(LUA_GEN): FORCE
	@scheduler/lua/embed.sh $@ scheduler/lua
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard */*.h) $(FUZZ_BUILD)/$(LUA_GEN)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(ZLIBS)
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
# A short bounded run of each target over its seed corpus, as a regression test. New
# inputs go to a scratch folder under build/ (libFuzzer writes to the first folder it is
# given), never into the committed seeds.
fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$${f##*/}; seeds=tests/fuzz/corpus/$${n#fuzz_}; \
	  work=$(FUZZ_BUILD)/corpus-$$n; mkdir -p $$work; \
	  echo "fuzz: $$n"; $$f -runs=20000 -max_len=65536 -artifact_prefix=$(FUZZ_BUILD)/ $$work $$( [ -d $$seeds ] && echo $$seeds ) \
	  > $(FUZZ_BUILD)/$$n.log 2>&1 || { tail -40 $(FUZZ_BUILD)/$$n.log; exit 1; }; done

# Installs what is missing; as root only (never sudo behind the user's back).
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing packages: $$missing (run as root or install them)" >&2; exit 1; fi; \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

RUN_DIR := run
run: all
	@mkdir -p $(RUN_DIR)
	@redis-cli -s $(RUN_DIR)/redis.sock ping >/dev/null 2>&1 || \
	  redis-server --port 0 --unixsocket $(CURDIR)/$(RUN_DIR)/redis.sock --unixsocketperm 700 \
	    --dir $(CURDIR)/$(RUN_DIR) --appendonly yes --daemonize yes \
	    --pidfile $(CURDIR)/$(RUN_DIR)/redis.pid --logfile $(CURDIR)/$(RUN_DIR)/redis.log
	@for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -s $(RUN_DIR)/redis.sock ping >/dev/null 2>&1 && break; sleep 0.2; done
	ZONECI_GITHUB_SECRET=$${ZONECI_GITHUB_SECRET:-dev-webhook-secret} \
	ZONECI_RUNNER_TOKENS=$${ZONECI_RUNNER_TOKENS:-dev-runner-token} \
	ZONECI_API_TOKENS=$${ZONECI_API_TOKENS:-dev-operator-token} \
	  $(BUILD)/zoneci serve --config examples/zoneci.json

# Lints the store's Lua (scheduler/lua/lint.sh): every file parses, every script is in the
# assembled library, and that library reads no global but Redis's own and writes none.
LUAC ?= luac5.1
$(BUILD)/lua-library: scheduler/lua/print_library.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)
lint-lua: deps
	@$(MAKE) --no-print-directory $(BUILD)/lua-library
	scheduler/lua/lint.sh $(LUAC) scheduler/lua $(BUILD)/lua-library

# Compiles each public header on its own: it must include what it uses. The scheduler's
# public faces (scheduler/sched_*.h, one per subsystem) are public headers too; the other
# headers in a module folder are private to it.
HEADERS := $(foreach m,$(MODULES),$(wildcard $(m)/$(m).h)) $(sort $(wildcard scheduler/sched_*.h))
headercheck: deps
	@for h in $(HEADERS); do echo "#include \"$$h\"" | \
	  $(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARNINGS) -I. -x c -fsyntax-only - || exit 1; done
	@echo "headers ok: $(HEADERS)"

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(wildcard */*.h) $(wildcard tests/*/*.c tests/*/*.h) $(FUZZ_SRC)

$(BUILD)/bench-micro: bench/micro/micro.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-parse: bench/parse_bench.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-outbox: bench/outbox/outbox.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-retention: bench/retention/memory.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

# The load client of bench/dispatch/run.sh: libcurl and jansson only, no zoneci code.
$(BUILD)/bench-dispatch: bench/dispatch/dispatch.c
	$(CC) $(ZCFLAGS) -o $@ $< $(ZLIBS)

# The protocol's ceiling for bench/dispatch: the same HTTP exchanges answered from memory.
$(BUILD)/bench-ceiling: bench/dispatch/ceiling.c
	$(CC) $(ZCFLAGS) -o $@ $< $(ZLIBS)

# route_of's table scan against the if-chain it replaced (compiles webhooks/server.c in).
$(BUILD)/bench-routes: bench/routes/routes.c $(BUILD)/libzoneci.a webhooks/server.c
	$(CC) $(ZCFLAGS) -Wno-missing-prototypes -o $@ $< $(BUILD)/libzoneci.a $(ZLIBS)

# The bench programs are compiled by `make check` too, so an API change cannot leave them
# behind; they are run only by `make bench` (never a pass/fail test: figures are noisy).
BENCH_BINS := $(BUILD)/bench-micro $(BUILD)/bench-parse $(BUILD)/bench-outbox \
              $(BUILD)/bench-retention $(BUILD)/bench-dispatch $(BUILD)/bench-ceiling \
              $(BUILD)/bench-routes
bench-build: $(BENCH_BINS)

# Every figure of bench/RESULTS.md, peers included (npm installs them under build/peers).
bench: all bench-build
	$(BUILD)/bench-micro
	$(BUILD)/bench-parse 20000
	$(BUILD)/bench-routes
	bench/outbox/run.sh
	bench/webhook/run.sh
	bench/dispatch/run.sh
	bench/inspect/run.sh
	bench/longpoll/run.sh 5000

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
