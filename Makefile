# zoneci: a plain Makefile. `make` builds build/zoneci; `make check` installs missing
# Debian packages (as root), then builds and runs every suite twice (plain, then under
# AddressSanitizer + UndefinedBehaviorSanitizer), smoke-runs the fuzz targets, and builds,
# installs, starts and purges the Debian package (package-check). `make install` honours
# PREFIX and DESTDIR.

.DEFAULT_GOAL := all

CC ?= cc
WERROR ?= 1
SANITIZER ?=
CFLAGS ?=
LDFLAGS ?=

# Debian packages the build, the tests and `make run` need.
DEBS := build-essential pkg-config libmicrohttpd-dev libhiredis-dev libgit2-dev libjansson-dev \
        libicu-dev check libcurl4-openssl-dev libssl-dev libpg-query-dev libjwt-dev \
        redis-server redis-sentinel tzdata icu-devtools git clang libclang-rt-14-dev lua5.1 clang-format \
        dpkg-dev debhelper curl prometheus python3 openssl chromium python3-yaml
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
# looks for there (it also looks next to itself, in $(BUILD)/tzdata). The configuration
# goes under $(SYSCONFDIR)/zoneci whatever the PREFIX, since the unit names it there.
PREFIX ?= /usr/local
DESTDIR ?=
TZDATA_INSTALL_DIR = $(PREFIX)/share/zoneci/tzdata
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
SYSTEMD_UNIT_DIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)

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

.PHONY: FORCE all check test run stop demo demo-check clean format headercheck lint-lua deps fuzz \
        fuzz-smoke bench bench-build install install-files uninstall package-check browser-test format-check
all: deps
	@$(MAKE) --no-print-directory $(BUILD)/zoneci $(BUILD)/tzdata/zoneci-tzdata.stamp

# ICU's time-zone resource generated from the system's tzdata (zoneci regenerates it into
# its cache_dir by itself when the system's tzdata is upgraded later).
SYSTEM_TZDATA := $(wildcard $(or $(TZDIR),/usr/share/zoneinfo)/tzdata.zi)
$(BUILD)/tzdata/zoneci-tzdata.stamp: $(BUILD)/zoneci $(SYSTEM_TZDATA)
	$(BUILD)/zoneci tzdata generate --out $(BUILD)/tzdata

# `make install` builds (installing missing build packages as root first); install-files
# only copies what is built, for debian/rules, which must not reach the network. The
# configuration and the secrets' template are written only when absent: they are the
# operator's once installed (the package makes them conffiles instead).
install: all
	@$(MAKE) --no-print-directory install-files

# The binary looks for its time-zone data under the PREFIX it was compiled with: a
# different PREFIX recompiles the one file that names it.
$(BUILD)/prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(TZDATA_INSTALL_DIR)' > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/obj/scheduler/tzdata.o: $(BUILD)/prefix

# The unit with this install's paths. Rewritten only when they change.
$(BUILD)/zoneci.service: packaging/zoneci.service.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@bindir@|$(PREFIX)/bin|g' -e 's|@sysconfdir@|$(SYSCONFDIR)|g' $< > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

install-files: $(BUILD)/zoneci $(BUILD)/tzdata/zoneci-tzdata.stamp $(BUILD)/zoneci.service
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(TZDATA_INSTALL_DIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(SYSCONFDIR)/zoneci
	install -m 755 $(BUILD)/zoneci $(DESTDIR)$(PREFIX)/bin/zoneci
	install -m 644 $(BUILD)/tzdata/zoneinfo64.res $(BUILD)/tzdata/zoneci-tzdata.stamp \
	  $(DESTDIR)$(TZDATA_INSTALL_DIR)/
	install -m 644 docs/zoneci.1 $(DESTDIR)$(MANDIR)/man1/zoneci.1
	install -m 644 $(BUILD)/zoneci.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/zoneci.service
	@[ -e $(DESTDIR)$(SYSCONFDIR)/zoneci/zoneci.json ] && \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/zoneci/zoneci.json" || \
	  install -m 644 packaging/zoneci.json $(DESTDIR)$(SYSCONFDIR)/zoneci/zoneci.json
	@[ -e $(DESTDIR)$(SYSCONFDIR)/zoneci/zoneci.env ] && \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/zoneci/zoneci.env" || \
	  install -m 600 packaging/zoneci.env $(DESTDIR)$(SYSCONFDIR)/zoneci/zoneci.env

# Removes what install-files put there, except the configuration and the secrets, which
# may have been edited (and the state in /var/lib/zoneci, which systemd owns).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/zoneci $(DESTDIR)$(MANDIR)/man1/zoneci.1 \
	  $(DESTDIR)$(SYSTEMD_UNIT_DIR)/zoneci.service \
	  $(DESTDIR)$(TZDATA_INSTALL_DIR)/zoneinfo64.res $(DESTDIR)$(TZDATA_INSTALL_DIR)/zoneci-tzdata.stamp
	-rmdir $(DESTDIR)$(TZDATA_INSTALL_DIR) $(DESTDIR)$(PREFIX)/share/zoneci 2>/dev/null
	@echo "left $(DESTDIR)$(SYSCONFDIR)/zoneci (configuration and secrets): remove it by hand"

# Builds the Debian package from a copy of the tree into build/pkg, checks its contents,
# and where root installs, starts, stops and purges it (packaging/check.sh says what it
# skips and why).
package-check:
	@if command -v dpkg-buildpackage >/dev/null; then packaging/check.sh $(BUILD)/pkg; \
	else echo "package-check: skipped: dpkg-buildpackage is not installed (dpkg-dev)"; fi

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
	@$(MAKE) --no-print-directory lint-lua docs-check format-check
	@$(MAKE) --no-print-directory test bench-build
	@$(MAKE) --no-print-directory demo-check
	@$(MAKE) --no-print-directory SANITIZER=address,undefined test
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory browser-test
	@$(MAKE) --no-print-directory package-check

# The status page in headless Chromium against a real `zoneci serve` (tests/browser/): signs
# in, reads the rendered page and approves a job by clicking. Skips, saying why, only when
# Chromium cannot start.
browser-test: $(BUILD)/zoneci $(BUILD)/tzdata/zoneci-tzdata.stamp
	python3 tests/browser/page_test.py $(BUILD)/zoneci

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

# `make run` starts a Redis on run/redis.sock (data kept in run/) and zoneci in the
# foreground; `make stop` (from another terminal, or after Ctrl-C) stops both by their pid
# files and removes the socket and pid files. ZONECI_CONFIG=FILE serves another config;
# PORT=N serves on another port: the config is then copied to run/zoneci.json with only
# server.listen's port changed, so no tracked file is edited.
RUN_DIR := run
ZONECI_CONFIG ?= examples/zoneci.json
PORT ?=
RUN_CONFIG = $(if $(PORT),$(RUN_DIR)/zoneci.json,$(ZONECI_CONFIG))
run: all
	@mkdir -p $(RUN_DIR)
	@redis-cli -s $(RUN_DIR)/redis.sock ping >/dev/null 2>&1 || \
	  redis-server --port 0 --unixsocket $(CURDIR)/$(RUN_DIR)/redis.sock --unixsocketperm 700 \
	    --dir $(CURDIR)/$(RUN_DIR) --appendonly yes --daemonize yes \
	    --pidfile $(CURDIR)/$(RUN_DIR)/redis.pid --logfile $(CURDIR)/$(RUN_DIR)/redis.log
	@for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -s $(RUN_DIR)/redis.sock ping >/dev/null 2>&1 && break; sleep 0.2; done
	@if [ -n "$(PORT)" ]; then python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); \
	  host = c["server"]["listen"].rsplit(":", 1)[0]; c["server"]["listen"] = host + ":" + sys.argv[2]; \
	  json.dump(c, open(sys.argv[3], "w"), indent=2)' $(ZONECI_CONFIG) $(PORT) $(RUN_CONFIG); fi
	@echo $$$$ > $(RUN_DIR)/zoneci.pid; \
	ZONECI_GITHUB_SECRET=$${ZONECI_GITHUB_SECRET:-dev-webhook-secret} \
	ZONECI_RUNNER_TOKENS=$${ZONECI_RUNNER_TOKENS:-dev-runner-token} \
	ZONECI_API_TOKENS=$${ZONECI_API_TOKENS:-dev-operator-token} \
	  exec $(BUILD)/zoneci serve --config $(RUN_CONFIG)

# Stops a process by its pid file only if that pid is still the program named (a stale
# file's pid may have been reused), waiting up to 10 s for it to exit.
stop_pid = if [ -f $(1) ] && [ "$$(cat /proc/$$(cat $(1))/comm 2>/dev/null)" = $(2) ]; then \
	  pid=$$(cat $(1)); kill $$pid; for i in $$(seq 50); do kill -0 $$pid 2>/dev/null || break; \
	  sleep 0.2; done; echo "stopped $(2) (pid $$pid)"; fi; rm -f $(1)
stop:
	@$(call stop_pid,$(RUN_DIR)/zoneci.pid,zoneci)
	@$(call stop_pid,$(RUN_DIR)/redis.pid,redis-server)
	@rm -f $(RUN_DIR)/redis.sock $(RUN_DIR)/zoneci.json

# The whole story offline in a few seconds (examples/demo.sh): a throwaway Redis, a local
# repository with a risky migration, a local peer printing the Slack card and the commit
# statuses, the approval click and one build. demo-check runs it quietly for `make check`:
# it fails unless the job succeeded and the peer got the card and the statuses.
demo: all
	ZONECI=$(BUILD)/zoneci examples/demo.sh
demo-check: all
	@ZONECI=$(BUILD)/zoneci examples/demo.sh > $(BUILD)/demo.log 2>&1 && echo "demo: ok ($$(tail -2 $(BUILD)/demo.log | head -1))" \
	  || { tail -40 $(BUILD)/demo.log; echo "demo: FAILED (whole output in $(BUILD)/demo.log)"; exit 1; }

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

# The formatter is Debian's clang-format (in DEBS), so that `make format` gives the same
# tree on every machine; format-check (run by `make check`) fails on any file it would change.
FORMAT_SRC = $(LIB_SRC) $(CLI_SRC) $(wildcard */*.h) $(wildcard tests/*/*.c tests/*/*.h) $(FUZZ_SRC)
format: deps
	clang-format -i $(FORMAT_SRC)
format-check: deps
	@clang-format --dry-run -Werror $(FORMAT_SRC) && echo "format-check: every file as clang-format $$(clang-format --version | sed 's/.*version //') leaves it"

$(BUILD)/bench-micro: bench/micro/micro.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-parse: bench/parse_bench.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-outbox: bench/outbox/outbox.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-retention: bench/retention/memory.c $(BUILD)/libzoneci.a
	$(CC) $(ZCFLAGS) -o $@ $^ $(ZLIBS)

$(BUILD)/bench-metrics: bench/metrics/metrics.c $(BUILD)/libzoneci.a
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
              $(BUILD)/bench-metrics $(BUILD)/bench-routes
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
	bench/metrics/run.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
