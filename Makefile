# SPDX-License-Identifier: GPL-2.0
#
# kcancel: `make` builds the modules against KDIR (default: the running
# kernel's build directory); `make check` runs every test in QEMU; `make lint`
# runs the static checks against KDIR if given, else the test kernel.

KDIR ?= /lib/modules/$(shell uname -r)/build

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# build/ holds the logs and build copies of `make check` and `make lint`.
clean:
	rm -rf build
	if [ -d $(KDIR) ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi

check:
	scripts/check.sh

# `make demo [SECONDS=N]`: the stress tool on Debian's stock kernel in QEMU.
demo:
	scripts/demo.sh $(SECONDS)

# `make soak [SOAK_ARGS="--percent 10"]`: the long fault run (hours), which
# writes docs/reliability.md; see scripts/soak.sh.
soak:
	scripts/soak.sh $(SOAK_ARGS)

lint:
	scripts/lint.sh $(if $(filter command line environment,$(origin KDIR)),$(KDIR),"$$(scripts/kernel.sh)")

.PHONY: all modules clean check demo soak lint
