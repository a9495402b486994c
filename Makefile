# nginx-upstream-latency: build, test, demo and install.
#
#   make                 the module, against Debian's nginx-dev (or NGINX_SRC)
#   make test            dependencies, module, unit tests, Test::Nginx suite
#   make demo            round robin and least_time side by side, on loopback
#   make bench           bench/: cost, overhead and tail latency vs nginx's own

NGINX_SRC ?= /usr/share/nginx/src
NGINX_BINARY ?= /usr/sbin/nginx
NGINX_MODULES_DIR ?= /usr/lib/nginx/modules
ECHO_MODULE ?= $(NGINX_MODULES_DIR)/ngx_http_echo_module.so

BUILD := $(CURDIR)/build
MODULE_NAME := ngx_http_upstream_latency_module
MODULE := $(BUILD)/$(MODULE_NAME).so
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

DEB_PACKAGES := nginx nginx-dev libnginx-mod-http-echo g++ make \
                libgtest-dev libbenchmark-dev wrk openssl perl \
                libtest-base-perl prometheus chromium

# the upstream Test::Nginx (CPAN) if installed, else our fallback runner,
# which then also runs its own tests
FALLBACK := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null || echo yes)
TEST_NGINX_ENV := TEST_NGINX_BINARY=$(NGINX_BINARY) \
    TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) $(MODULE)" \
    $(if $(FALLBACK),PERL5LIB=$(CURDIR)/t/fallback)

.PHONY: all module deps unit prove test demo bench install uninstall clean

all: module

$(NGINX_BUILD)/Makefile: config config.make
	mkdir -p $(NGINX_BUILD)
	cd $(NGINX_SRC) && bash -c ' \
	    NGX_CONF_FLAGS=(--with-compat); \
	    if [ -f ./conf_flags ]; then . ./conf_flags; fi; \
	    ./configure --with-cc-opt="$(CC_OPT)" --with-ld-opt="$(LD_OPT)" \
	        "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	        --builddir=$(NGINX_BUILD) >$(NGINX_BUILD)/configure.log' \
	    || { tail -20 $(NGINX_BUILD)/configure.log; exit 1; }

module: $(NGINX_BUILD)/Makefile
	$(MAKE) -f $(NGINX_BUILD)/Makefile -C $(NGINX_SRC) modules
	# a new file, not rewritten in place: a running nginx may have it mapped
	cp -p $(NGINX_BUILD)/$(MODULE_NAME).so $(MODULE).tmp
	mv -f $(MODULE).tmp $(MODULE)

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

demo: deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	@bench/demo

bench: deps
	@$(MAKE) -s --no-print-directory module >/dev/null
	bench/run

install: module
	install -m 644 $(MODULE) $(NGINX_MODULES_DIR)/$(MODULE_NAME).so
	mkdir -p /usr/share/nginx/modules-available
	echo "load_module modules/$(MODULE_NAME).so;" \
	    > /usr/share/nginx/modules-available/mod-http-upstream-latency.conf

uninstall:
	rm -f $(NGINX_MODULES_DIR)/$(MODULE_NAME).so \
	    /usr/share/nginx/modules-available/mod-http-upstream-latency.conf

clean:
	rm -rf $(BUILD) t/servroot
