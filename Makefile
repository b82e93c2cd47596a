# SPDX-License-Identifier: GPL-2.0
#
# kcancel: `make` builds the modules against KDIR (default: the running
# kernel's build directory); `make check` runs every test in QEMU; `make lint`
# runs the static checks against KDIR if given, else the test kernel.
#
# Installing (as root):
#   make modules_install     the built modules into /lib/modules/RELEASE of
#                            KDIR's kernel, in its directory for external
#                            modules (updates/ on 6.12, extra/ on 6.1);
#                            INSTALL_MOD_PATH and INSTALL_MOD_DIR as for any
#                            external module
#   make dkms-install        the DKMS package kcancel-$(KCANCEL_VERSION) in
#                            /usr/src, built and installed for the running
#                            kernel and rebuilt by DKMS for each new one
#   make dkms-uninstall      removes it from every kernel, and its sources
#   make install-udev        the udev rule: /dev/kcancelN mode 0660, group
#                            kcancel (created if missing)
#   make uninstall-udev      removes the rule

KDIR ?= /lib/modules/$(shell uname -r)/build

# The version of kcancel: the module's MODULE_VERSION (see Kbuild) and the
# DKMS package's.
KCANCEL_VERSION := $(shell cat $(CURDIR)/VERSION)

# DKMS: DKMS_FLAGS go to every dkms command (--dkmstree, --sourcetree of
# DKMS_SOURCE_TREE, --installtree, --no-depmod, ...), DKMS_BUILD_FLAGS to
# dkms build and install only (-k RELEASE, --kernelsourcedir DIR).
DKMS ?= dkms
DKMS_SOURCE_TREE ?= /usr/src
DKMS_FLAGS ?=
DKMS_BUILD_FLAGS ?=
dkms_src := $(DKMS_SOURCE_TREE)/kcancel-$(KCANCEL_VERSION)
dkms_args := -m kcancel -v $(KCANCEL_VERSION) --sourcetree $(DKMS_SOURCE_TREE) $(DKMS_FLAGS)

# The udev rule goes to $(DESTDIR)$(UDEV_RULES_DIR); with DESTDIR set (a
# package being made) neither the group nor udev is touched.
UDEV_RULES_DIR ?= /etc/udev/rules.d
udev_rule := 60-kcancel.rules

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

modules_install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

# need-root - fail, naming the target, unless run as root.
need-root = @if [ "$$(id -u)" -ne 0 ]; then \
	echo "make $@ changes the system and needs root: run sudo make $@" >&2; \
	exit 1; fi
# need-dkms - fail unless dkms is there.
need-dkms = @command -v $(DKMS) >/dev/null || { \
	echo "make $@ needs dkms: install it with sudo apt-get install dkms" >&2; \
	exit 1; }

# The package's sources are what the module's build reads (no build
# products), and an empty kunit/ for kernels with KUnit, whose Kbuild names
# it: the suites are not packaged. A package of the same version is
# replaced.
dkms-install:
	$(need-root)
	$(need-dkms)
	@[ -n "$(KCANCEL_VERSION)" ] || { echo "no version in $(CURDIR)/VERSION" >&2; exit 1; }
	if [ -n "$$($(DKMS) status $(dkms_args))" ]; then \
		$(DKMS) remove $(dkms_args) --all; fi
	rm -rf $(dkms_src)
	mkdir -p $(dkms_src)/kunit
	cp --parents Kbuild Makefile VERSION $$(find include module -name '*.[ch]') $(dkms_src)/
	sed 's/@VERSION@/$(KCANCEL_VERSION)/' dkms.conf >$(dkms_src)/dkms.conf
	printf '%s\n' '# SPDX-License-Identifier: GPL-2.0' \
		'# The KUnit suites are not part of the DKMS package.' >$(dkms_src)/kunit/Kbuild
	$(DKMS) add $(dkms_args)
	$(DKMS) build $(dkms_args) $(DKMS_BUILD_FLAGS)
	$(DKMS) install $(dkms_args) $(DKMS_BUILD_FLAGS)

dkms-uninstall:
	$(need-root)
	$(need-dkms)
	if [ -n "$$($(DKMS) status $(dkms_args))" ]; then \
		$(DKMS) remove $(dkms_args) --all; fi
	rm -rf $(dkms_src)

install-udev:
	$(if $(DESTDIR),,$(need-root))
	install -D -m 0644 udev/$(udev_rule) $(DESTDIR)$(UDEV_RULES_DIR)/$(udev_rule)
ifeq ($(DESTDIR),)
	getent group kcancel >/dev/null || groupadd --system kcancel
	if command -v udevadm >/dev/null && [ -d /run/udev ]; then \
		udevadm control --reload && \
		udevadm trigger --subsystem-match=misc --sysname-match='kcancel*'; fi
endif

uninstall-udev:
	$(if $(DESTDIR),,$(need-root))
	rm -f $(DESTDIR)$(UDEV_RULES_DIR)/$(udev_rule)
ifeq ($(DESTDIR),)
	if command -v udevadm >/dev/null && [ -d /run/udev ]; then \
		udevadm control --reload; fi
endif

# build/ holds the logs and build copies of `make check` and `make lint`.
clean:
	rm -rf build
	if [ -d $(KDIR) ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi

check:
	scripts/check.sh

# `make demo [SECONDS=N]`: the stress tool on Debian's stock kernel in QEMU.
demo:
	scripts/demo.sh $(SECONDS)

# `make soak [SOAK_ARGS="--percent 10"]`: the long race and fault run
# (about an hour, three guest boots), which writes docs/reliability.md; see
# scripts/soak.sh.
soak:
	scripts/soak.sh $(SOAK_ARGS)

# `make bench [BENCH_ARGS="--rounds 7"]`: kcancel against io_uring and the bare
# device, in one boot of Debian's stock 6.12; writes bench/results.{json,md}.
bench:
	scripts/bench.sh $(BENCH_ARGS)

# `make profile [PROFILE_ARGS="--seconds 5"]`: perf in the same guest as bench,
# where the time of a request goes; reports in build/profile-DATE/.
profile:
	scripts/profile.sh $(PROFILE_ARGS)

lint:
	scripts/lint.sh $(if $(filter command line environment,$(origin KDIR)),$(KDIR),"$$(scripts/kernel.sh)")

.PHONY: all modules modules_install dkms-install dkms-uninstall install-udev \
	uninstall-udev clean check demo soak bench profile lint
