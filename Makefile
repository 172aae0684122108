# feedd — see README.md. Every tool the tests need is installed by `make deps`.

GO       ?= go
BIN      := bin/feedd
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -X main.version=$(VERSION)
PKGS     := ./...
# Where the demo keeps its configurations, pair secret, logs and simulated ports.
DEMO_DIR ?= /tmp/feedd-demo
# Extra flags for `make demo`.
DEMO_ARGS ?=
# Fuzz time per target for `make fuzz`.
FUZZTIME ?= 10s
# Repetitions per benchmark for `make bench` (benchstat needs at least 6 for a confidence interval).
BENCHCOUNT ?= 6
# Where `make install` puts things (DESTDIR is prefixed to all of them, for packaging).
PREFIX         ?= /usr/local
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= /etc/systemd/system
SYSUSERSDIR    ?= /usr/lib/sysusers.d
# Output of `make static`.
STATIC_BIN ?= bin/feedd-static

.PHONY: all build test vet deps demo bench fuzz clean static install

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/feedd

# deps installs what the tests and the demo need on a fresh Debian machine
# (socat for the simulated serial ports, promtool to check the alert rules)
# and does nothing when it is already there.
deps:
	@missing=""; \
	command -v socat >/dev/null 2>&1 || missing="$$missing socat"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v socat >/dev/null 2>&1 || { echo "socat is still missing: install it (apt-get install socat)"; exit 1; }
	@command -v promtool >/dev/null 2>&1 || { echo "promtool is still missing: install Debian's prometheus package"; exit 1; }

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }

# test runs every test, including each fuzz target's seed corpus, with the
# race detector.
test: deps vet
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_PROMTOOL=1 $(GO) test -race -count=1 -timeout 30m $(PKGS)

# fuzz runs each fuzz target briefly; FUZZTIME sets how long.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run=NONE -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

# bench runs the Go benchmarks; docs/benchmarks.md records the figures.
bench: deps
	$(GO) test -run=NONE -bench=. -benchmem -count=$(BENCHCOUNT) -timeout 60m $(PKGS) | tee bench.out

# demo: the whole pair on this machine: the embedded broker, a simulated feed
# split to two ports (socat ptys), two members, and a kill -9 of the active
# member every 15s, shown live; at the end (Ctrl-C) it stops everything and
# audits the topic. DEMO_ARGS adds flags, e.g.
# make demo DEMO_ARGS='--duration 1m --failover-every 5s' (see feedd demo -h).
demo: deps build
	./$(BIN) demo --dir $(DEMO_DIR) $(DEMO_ARGS)

# static builds a statically linked binary (no cgo, no libc), as deploy/Dockerfile does.
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $(STATIC_BIN) ./cmd/feedd

# install installs the binary, the systemd unit (its paths rewritten for PREFIX and
# SYSCONFDIR), the sysusers.d entry that creates the feedd user, the example configurations
# and the documentation. It creates no user, starts nothing and never touches an existing
# configuration; docs/operations.md ("Installing a member") has the steps that follow.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/feedd
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(PREFIX)/share/doc/feedd/examples
	sed -e 's|/usr/local/bin/feedd|$(PREFIX)/bin/feedd|g' -e 's|/usr/local/share/doc/feedd|$(PREFIX)/share/doc/feedd|g' \
		-e 's|/etc/feedd|$(SYSCONFDIR)/feedd|g' deploy/systemd/feedd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/feedd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/feedd.service
	install -m 0644 deploy/systemd/feedd.sysusers $(DESTDIR)$(SYSUSERSDIR)/feedd.conf
	install -m 0644 deploy/feedd-host-a.yaml deploy/feedd-host-b.yaml $(DESTDIR)$(PREFIX)/share/doc/feedd/examples/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/feedd/
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/feedd
	@echo "installed under $(DESTDIR)$(PREFIX); next: systemd-sysusers, a configuration in $(SYSCONFDIR)/feedd/feedd.yaml, systemctl enable --now feedd"

clean:
	rm -rf bin bench.out
