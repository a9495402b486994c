# nginx-upstream-latency: build, test, demo and install.
#
#   make                 the module, against Debian's nginx-dev (or NGINX_SRC)
#   make test            dependencies, module, unit tests, Test::Nginx suite,
#                        the Debian packages, sanitizers
#   make demo            round robin and least_time side by side, on loopback
#   make deb             Debian packages of the modules, in build/deb/
#   make test-deb        (root) installs them with apt, proxies a request
#                        through each module, purges them
#   make bench           bench/ (about 35 min): nginx's balancers, HAProxy and
#                        the module's, in one run; bench/results/<date>.*,
#                        then the stream ones, bench/results/<date>-stream.*,
#                        bench-capacity, bench-cost and bench-sim
#   make bench-capacity  backends that queue (bench/capacity: one queue per
#                        backend, then one per worker; about 12 min);
#                        bench/results/capacity-<date>.* and
#                        capacity-<date>-per-worker.*
#   make bench-cost      instructions per proxied request of each balancer,
#                        counted by callgrind (bench/cost, about 3 min);
#                        bench/results/cost-<date>.*
#   make bench-sim       the simulator's report (bench/sim), simulated
#                        figures only; bench/results/sim-<date>.md
#   make sim-test        GoogleTest of the policy in the simulator (in make test)
#   make check-sanitizers  unit tests under ASan+UBSan, the Test::Nginx suite
#                        with the module built with ASan
#   make compat NGINX_TREES=DIR  the suite against each nginx of
#                        COMPAT_VERSIONS, built from the source trees in DIR
#   make unit-m32        the unit tests built for 32-bit x86
#   make unit-tsan       the unit tests under ThreadSanitizer

NGINX_SRC ?= /usr/share/nginx/src
# more configure arguments, for a tree without Debian's conf_flags: those
# of the nginx the module is for (nginx -V)
NGINX_CONFIGURE_ARGS ?=
NGINX_BINARY ?= /usr/sbin/nginx
NGINX_MODULES_DIR ?= /usr/lib/nginx/modules
ECHO_MODULE ?= $(NGINX_MODULES_DIR)/ngx_http_echo_module.so
# Debian builds nginx's stream module as a dynamic module
NGINX_STREAM_MODULE ?= $(NGINX_MODULES_DIR)/ngx_stream_module.so

BUILD := $(CURDIR)/build
MODULE_NAME := ngx_http_upstream_latency_module
MODULE := $(BUILD)/$(MODULE_NAME).so
STREAM_MODULE_NAME := ngx_stream_upstream_latency_module
STREAM_MODULE := $(BUILD)/$(STREAM_MODULE_NAME).so
NGINX_BUILD := $(BUILD)/nginx-$(notdir $(abspath $(NGINX_SRC)))

# Debian's hardening flags, as its libnginx-mod-* packages use
CC_OPT := -g -O2 -fstack-protector-strong -Wformat -Werror=format-security \
          -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC

CORE_SRCS := $(wildcard src/core/*.cpp)
CORE_HDRS := $(wildcard src/core/*.hpp)
UNIT_SRCS := $(wildcard t/unit/*.cpp)
CXXFLAGS ?= -O2 -g
CORE_CXXFLAGS := -std=c++17 -W -Wall -Wextra -Werror -Wpointer-arith -Isrc

# make demo: what it builds and runs with
DEMO_PACKAGES := nginx nginx-dev libnginx-mod-http-echo g++ make wrk
# make test: all of it (dpkg-buildpackage needs build-essential)
DEB_PACKAGES := $(DEMO_PACKAGES) libnginx-mod-stream \
                build-essential debhelper dpkg-dev \
                libgtest-dev libbenchmark-dev openssl perl \
                libtest-base-perl prometheus chromium haproxy gnuplot-nox
# for make bench only
BENCH_PACKAGES := valgrind

# the upstream Test::Nginx (CPAN) if installed, else our fallback runner,
# which then also runs its own tests
FALLBACK := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null || echo yes)
# TEST_NGINX_RANDOMIZE: a free port and server root per file, so that
# prove -jN (and other suites on this machine) do not clash.
# LATENCY_TEST_STRICT: a test file that cannot run (a program or module
# missing) stops the run instead of skipping.
PROVE_ENV := TEST_NGINX_RANDOMIZE=1 LATENCY_TEST_STRICT=1 \
    $(if $(FALLBACK),PERL5LIB=$(CURDIR)/t/fallback)
TEST_NGINX_ENV := $(PROVE_ENV) TEST_NGINX_BINARY=$(NGINX_BINARY) \
    TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) $(MODULE) \
        $(NGINX_STREAM_MODULE) $(STREAM_MODULE)"

.PHONY: all module deps unit prove test test-stress demo bench install \
        uninstall clean check-sanitizers unit-sanitized prove-asan deb test-deb \
        compat unit-m32 unit-tsan bench-capacity bench-sim sim-test bench-deps bench-cost

all: module

# configure DIR CC_OPT LD_OPT: nginx's configure for the modules, out of
# tree (a release tree has ./configure, a checkout of nginx/nginx
# auto/configure); the stream module (dynamic, as Debian's) for the stream
# balancer
configure = mkdir -p $(1) && cd $(NGINX_SRC) && bash -c ' \
	    NGX_CONF_FLAGS=(--with-compat); \
	    if [ -f ./conf_flags ]; then . ./conf_flags; fi; \
	    if [ -x ./configure ]; then c=./configure; else c=auto/configure; fi; \
	    $$c --with-cc-opt="$(2)" --with-ld-opt="$(3)" \
	        "$${NGX_CONF_FLAGS[@]}" --with-stream=dynamic \
	        $(NGINX_CONFIGURE_ARGS) \
	        --add-dynamic-module=$(CURDIR) \
	        --builddir=$(1) >$(1)/configure.log' \
	    || { tail -20 $(1)/configure.log; exit 1; }

$(NGINX_BUILD)/Makefile: config config.make
	$(call configure,$(NGINX_BUILD),$(CC_OPT),$(LD_OPT))

module: $(NGINX_BUILD)/Makefile
	# only these two: nginx-dev has no source of nginx's stream module
	$(MAKE) -f $(NGINX_BUILD)/Makefile -C $(NGINX_SRC) \
	    $(NGINX_BUILD)/$(MODULE_NAME).so \
	    $(NGINX_BUILD)/$(STREAM_MODULE_NAME).so
	# new files, not rewritten in place: a running nginx may have them mapped
	for m in $(MODULE_NAME) $(STREAM_MODULE_NAME); do \
	    cp -p $(NGINX_BUILD)/$$m.so $(BUILD)/$$m.so.tmp \
	    && mv -f $(BUILD)/$$m.so.tmp $(BUILD)/$$m.so || exit 1; \
	done

# The module built with AddressSanitizer, loaded into the stock nginx with
# the ASan runtime preloaded; reports go to $(ASAN)/reports.  Every nginx
# dynamic module defines ngx_modules, ngx_module_names and ngx_module_order
# (nginx looks them up in each one): detect_odr_violation=1 reports only
# globals of one name whose sizes differ, not these.
ASAN := $(BUILD)/asan
SANITIZE := -fsanitize=address -fno-omit-frame-pointer

$(ASAN)/nginx/Makefile: config config.make
	$(call configure,$(ASAN)/nginx,$(CC_OPT) $(SANITIZE),$(LD_OPT) $(SANITIZE))

$(ASAN)/run-nginx: Makefile
	mkdir -p $(ASAN)
	printf '#!/bin/sh\n%s\n' \
	    'LD_PRELOAD=$$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=1:abort_on_error=1:log_path=$(ASAN)/reports/asan exec $(NGINX_BINARY) "$$@"' \
	    > $@
	chmod +x $@

prove-asan: deps $(ASAN)/nginx/Makefile $(ASAN)/run-nginx
	$(MAKE) -f $(ASAN)/nginx/Makefile -C $(NGINX_SRC) \
	    $(ASAN)/nginx/$(MODULE_NAME).so \
	    $(ASAN)/nginx/$(STREAM_MODULE_NAME).so
	rm -rf $(ASAN)/reports && mkdir -p $(ASAN)/reports
	$(PROVE_ENV) TEST_NGINX_BINARY=$(ASAN)/run-nginx \
	    TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) \
	        $(ASAN)/nginx/$(MODULE_NAME).so $(NGINX_STREAM_MODULE) \
	        $(ASAN)/nginx/$(STREAM_MODULE_NAME).so" \
	    prove t/*.t
	@if ls $(ASAN)/reports/* >/dev/null 2>&1; then \
	    echo "AddressSanitizer reports:"; cat $(ASAN)/reports/*; exit 1; \
	else echo "AddressSanitizer: no report"; fi

$(BUILD)/unit_tests_sanitized: $(CORE_SRCS) $(CORE_HDRS) $(UNIT_SRCS)
	mkdir -p $(BUILD)
	$(CXX) -O1 -g $(CORE_CXXFLAGS) $(SANITIZE) -fsanitize=undefined \
	    -fno-sanitize-recover=all -o $@ $(CORE_SRCS) $(UNIT_SRCS) \
	    -lgtest -lgtest_main -pthread

unit-sanitized: $(BUILD)/unit_tests_sanitized
	$(BUILD)/unit_tests_sanitized --gtest_brief=1

check-sanitizers: unit-sanitized prove-asan

$(BUILD)/unit_tests: $(CORE_SRCS) $(CORE_HDRS) $(UNIT_SRCS)
	mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) $(CORE_CXXFLAGS) -o $@ $(CORE_SRCS) $(UNIT_SRCS) \
	    -lgtest -lgtest_main -pthread

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# The simulator (bench/sim) links the real core.
SIM_SRCS := bench/sim/sim.cpp bench/sim/scenarios.cpp
SIM_HDRS := $(wildcard bench/sim/*.hpp)

$(BUILD)/sim: $(SIM_SRCS) $(SIM_HDRS) bench/sim/main.cpp $(CORE_SRCS) $(CORE_HDRS)
	mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) $(CORE_CXXFLAGS) -Ibench -o $@ $(SIM_SRCS) \
	    bench/sim/main.cpp $(CORE_SRCS) -pthread

$(BUILD)/sim_tests: $(SIM_SRCS) $(SIM_HDRS) bench/sim/sim_test.cpp $(CORE_SRCS) $(CORE_HDRS)
	mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS) $(CORE_CXXFLAGS) -Ibench -o $@ $(SIM_SRCS) \
	    bench/sim/sim_test.cpp $(CORE_SRCS) -lgtest -lgtest_main -pthread

sim-test: $(BUILD)/sim_tests
	$(BUILD)/sim_tests --gtest_brief=1

# The core and its unit tests built for 32-bit x86 (gcc-multilib and
# g++-multilib), with GoogleTest compiled for it from libgtest-dev's sources.
M32 := $(BUILD)/m32
GTEST_SRC := /usr/src/googletest/googletest

$(M32)/libgtest.a:
	@echo 'int main() {}' | $(CXX) -m32 -x c++ - -o /dev/null 2>/dev/null \
	    || { echo "unit-m32 needs gcc-multilib and g++-multilib" \
	              "(apt-get install gcc-multilib g++-multilib)"; exit 1; }
	mkdir -p $(M32)
	cd $(M32) && $(CXX) -m32 -O2 -I$(GTEST_SRC) -c \
	    $(GTEST_SRC)/src/gtest-all.cc $(GTEST_SRC)/src/gtest_main.cc
	ar rcs $@ $(M32)/gtest-all.o $(M32)/gtest_main.o

$(M32)/unit_tests: $(CORE_SRCS) $(CORE_HDRS) $(UNIT_SRCS) $(M32)/libgtest.a
	$(CXX) -m32 $(CXXFLAGS) $(CORE_CXXFLAGS) -o $@ $(CORE_SRCS) \
	    $(UNIT_SRCS) $(M32)/libgtest.a -pthread

unit-m32: $(M32)/unit_tests
	$(M32)/unit_tests --gtest_brief=1


# The unit tests under ThreadSanitizer, with GoogleTest compiled for it:
# the tests where threads race for the table's slots.
TSAN := $(BUILD)/tsan
TSAN_FLAGS := -fsanitize=thread -O1 -g

$(TSAN)/libgtest.a:
	mkdir -p $(TSAN)
	cd $(TSAN) && $(CXX) $(TSAN_FLAGS) -I$(GTEST_SRC) \
	    -I$(GTEST_SRC)/include -c \
	    $(GTEST_SRC)/src/gtest-all.cc $(GTEST_SRC)/src/gtest_main.cc
	ar rcs $@ $(TSAN)/gtest-all.o $(TSAN)/gtest_main.o

$(TSAN)/unit_tests: $(CORE_SRCS) $(CORE_HDRS) $(UNIT_SRCS) $(TSAN)/libgtest.a
	$(CXX) $(TSAN_FLAGS) $(CORE_CXXFLAGS) -I$(GTEST_SRC)/include -o $@ \
	    $(CORE_SRCS) $(UNIT_SRCS) $(TSAN)/libgtest.a -pthread

unit-tsan: $(TSAN)/unit_tests
	TSAN_OPTIONS=halt_on_error=1 $(TSAN)/unit_tests --gtest_brief=1

# nginx, echo and the module built from the trees $(NGINX_TREES)/nginx-<version>
# (and $(NGINX_TREES)/echo-nginx-module, or ECHO_SRC), in build/compat/<version>;
# a series (1.28) takes its latest tree there.  See t/compat/run.
NGINX_TREES ?=
ECHO_SRC ?= $(NGINX_TREES)/echo-nginx-module
COMPAT_VERSIONS ?= 1.22.1 1.24.0 1.26.3 1.28 1.30 1.31

compat:
	NGINX_TREES="$(NGINX_TREES)" ECHO_SRC="$(ECHO_SRC)" \
	    COMPAT_VERSIONS="$(COMPAT_VERSIONS)" OUT=$(BUILD)/compat \
	    $(PROVE_ENV) t/compat/run

prove: deps module
	$(TEST_NGINX_ENV) prove t/*.t $(if $(FALLBACK),t/fallback/selftest)

# The Test::Nginx suite STRESS_RUNS times in a row while a busy loop per
# core keeps every core loaded: the timing tests must hold there too.
STRESS_RUNS ?= 5
test-stress: deps module
	@busy=; for i in $$(seq $$(nproc)); do \
	    sh -c 'while :; do :; done' & busy="$$busy $$!"; done; \
	trap "kill $$busy" EXIT; failed=0; \
	for run in $$(seq $(STRESS_RUNS)); do \
	    echo "test-stress: run $$run of $(STRESS_RUNS), $$(nproc) busy loops"; \
	    $(TEST_NGINX_ENV) prove t/*.t || failed=$$((failed + 1)); \
	done; \
	echo "test-stress: $$failed of $(STRESS_RUNS) runs failed"; \
	[ $$failed = 0 ]

# install_missing PACKAGES: those not installed yet, with apt
install_missing = @missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps:
	$(call install_missing,$(DEB_PACKAGES))

bench-deps: deps
	$(call install_missing,$(BENCH_PACKAGES))

test: deps
	$(MAKE) module
	$(MAKE) unit
	$(MAKE) sim-test
	$(MAKE) prove
	$(MAKE) test-deb
	$(MAKE) check-sanitizers

demo:
	$(call install_missing,$(DEMO_PACKAGES))
	@$(MAKE) -s --no-print-directory module >/dev/null
	@bench/demo

bench: bench-deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	bench/run
	bench/stream
	bench/capacity
	BENCH_CAPACITY_QUEUES=per-worker BENCH_CAPACITY_SCENARIOS="one three" \
	    bench/capacity
	bench/cost
	$(MAKE) bench-sim

bench-capacity: deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	bench/capacity
	BENCH_CAPACITY_QUEUES=per-worker BENCH_CAPACITY_SCENARIOS="one three" \
	    bench/capacity

bench-cost: bench-deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	bench/cost

bench-sim: $(BUILD)/sim
	mkdir -p bench/results
	report=bench/results/sim-$$(date +%F).md; \
	    $(BUILD)/sim --candidates >$$report.tmp && mv $$report.tmp $$report \
	    && cat $$report

install: module
	install -m 644 $(MODULE) $(NGINX_MODULES_DIR)/$(MODULE_NAME).so
	install -m 644 $(STREAM_MODULE) $(NGINX_MODULES_DIR)/$(STREAM_MODULE_NAME).so
	mkdir -p /usr/share/nginx/modules-available
	echo "load_module modules/$(MODULE_NAME).so;" \
	    > /usr/share/nginx/modules-available/mod-http-upstream-latency.conf
	echo "load_module modules/$(STREAM_MODULE_NAME).so;" \
	    > /usr/share/nginx/modules-available/mod-stream-upstream-latency.conf

# The Debian packages, one per module: each named by a stanza of
# packaging/debian/control and given its .so by a .install file there.
# Built from a copy of the module's source, as a Debian source package,
# against Debian's nginx-dev (/usr/share/nginx/src, whatever NGINX_SRC);
# packages and build logs in build/deb/.
DEB_MODULE_PACKAGES := $(shell sed -n 's/^Package: //p' packaging/debian/control)
DEB_DIR := $(BUILD)/deb
DEB_SOURCE := $(DEB_DIR)/nginx-upstream-latency

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SOURCE)
	cp -r config config.make src packaging/debian $(DEB_SOURCE)/
	cd $(DEB_SOURCE) && dpkg-buildpackage -b -uc -us
	@for p in $(DEB_MODULE_PACKAGES); do \
	    ls $(DEB_DIR)/$${p}_*.deb || exit 1; done

# installs the packages with apt, proxies through them, purges them
test-deb: deb
	prove t/deb/install.t :: \
	    $(foreach p,$(DEB_MODULE_PACKAGES),$(DEB_DIR)/$(p)_*.deb)

uninstall:
	rm -f $(NGINX_MODULES_DIR)/$(MODULE_NAME).so \
	    $(NGINX_MODULES_DIR)/$(STREAM_MODULE_NAME).so \
	    /usr/share/nginx/modules-available/mod-http-upstream-latency.conf \
	    /usr/share/nginx/modules-available/mod-stream-upstream-latency.conf

clean:
	rm -rf $(BUILD) t/servroot t/servroot_*
