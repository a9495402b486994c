# nginx-upstream-latency: build, test, demo and install.
#
#   make                 the module, against Debian's nginx-dev (or NGINX_SRC)
#   make test            dependencies, module, unit tests, Test::Nginx suite
#   make demo            round robin and least_time side by side, on loopback
#   make bench           bench/ (about 12 min): nginx's balancers, HAProxy and
#                        the module's, in one run; bench/results/<date>.*,
#                        then the stream ones, bench/results/<date>-stream.*
#   make check-sanitizers  unit tests under ASan+UBSan, the Test::Nginx suite
#                        with the module built with ASan

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

DEB_PACKAGES := nginx nginx-dev libnginx-mod-http-echo libnginx-mod-stream \
                g++ make \
                libgtest-dev libbenchmark-dev wrk openssl perl \
                libtest-base-perl prometheus chromium haproxy gnuplot-nox

# the upstream Test::Nginx (CPAN) if installed, else our fallback runner,
# which then also runs its own tests
FALLBACK := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null || echo yes)
TEST_NGINX_ENV := TEST_NGINX_BINARY=$(NGINX_BINARY) \
    TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) $(MODULE) \
        $(NGINX_STREAM_MODULE) $(STREAM_MODULE)" \
    $(if $(FALLBACK),PERL5LIB=$(CURDIR)/t/fallback)

.PHONY: all module deps unit prove test demo bench install uninstall clean \
        check-sanitizers unit-sanitized prove-asan

all: module

# configure DIR CC_OPT LD_OPT: nginx's configure for the modules, out of
# tree; the stream module (dynamic, as Debian's) for the stream balancer
configure = mkdir -p $(1) && cd $(NGINX_SRC) && bash -c ' \
	    NGX_CONF_FLAGS=(--with-compat); \
	    if [ -f ./conf_flags ]; then . ./conf_flags; fi; \
	    ./configure --with-cc-opt="$(2)" --with-ld-opt="$(3)" \
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

prove-asan: $(ASAN)/nginx/Makefile $(ASAN)/run-nginx
	$(MAKE) -f $(ASAN)/nginx/Makefile -C $(NGINX_SRC) \
	    $(ASAN)/nginx/$(MODULE_NAME).so \
	    $(ASAN)/nginx/$(STREAM_MODULE_NAME).so
	rm -rf $(ASAN)/reports && mkdir -p $(ASAN)/reports
	TEST_NGINX_BINARY=$(ASAN)/run-nginx \
	    TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) \
	        $(ASAN)/nginx/$(MODULE_NAME).so $(NGINX_STREAM_MODULE) \
	        $(ASAN)/nginx/$(STREAM_MODULE_NAME).so" \
	    $(if $(FALLBACK),PERL5LIB=$(CURDIR)/t/fallback) prove t/*.t
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

prove: module
	$(TEST_NGINX_ENV) prove t/*.t $(if $(FALLBACK),t/fallback/selftest)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps
	$(MAKE) module
	$(MAKE) unit
	$(MAKE) prove
	$(MAKE) check-sanitizers

demo: deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	@bench/demo

bench: deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	bench/run
	bench/stream

install: module
	install -m 644 $(MODULE) $(NGINX_MODULES_DIR)/$(MODULE_NAME).so
	install -m 644 $(STREAM_MODULE) $(NGINX_MODULES_DIR)/$(STREAM_MODULE_NAME).so
	mkdir -p /usr/share/nginx/modules-available
	echo "load_module modules/$(MODULE_NAME).so;" \
	    > /usr/share/nginx/modules-available/mod-http-upstream-latency.conf
	echo "load_module modules/$(STREAM_MODULE_NAME).so;" \
	    > /usr/share/nginx/modules-available/mod-stream-upstream-latency.conf

uninstall:
	rm -f $(NGINX_MODULES_DIR)/$(MODULE_NAME).so \
	    $(NGINX_MODULES_DIR)/$(STREAM_MODULE_NAME).so \
	    /usr/share/nginx/modules-available/mod-http-upstream-latency.conf \
	    /usr/share/nginx/modules-available/mod-stream-upstream-latency.conf

clean:
	rm -rf $(BUILD) t/servroot
