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

.PHONY: all build test vet deps demo bench fuzz clean

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

# checkmetrics starts a real pair of members and runs what each /metrics
# endpoint serves through `promtool check metrics` (TestPromtoolCheckMetrics,
# which `make test` runs too).
.PHONY: checkmetrics
checkmetrics: deps
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_PROMTOOL=1 $(GO) test -count=1 -run '^TestPromtoolCheckMetrics$$' -v ./cmd/feedd

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
# split to two ports (socat ptys), two members, an audit following the topic,
# and a kill -9 of the active member every 15s, shown live; at the end
# (Ctrl-C) it stops everything and audits the whole topic. DEMO_ARGS adds
# flags, e.g. make demo DEMO_ARGS='--duration 1m --chaos --json'
# (see feedd demo -h).
demo: deps build
	./$(BIN) demo --dir $(DEMO_DIR) $(DEMO_ARGS)

clean:
	rm -rf bin bench.out
