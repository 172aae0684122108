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
# Cases of the pair property test (backlog) in `make fuzz`; `make test` runs 100.
PAIR_CHECKS ?= 100000
# Fuzz time per target for `make fuzz`.
FUZZTIME ?= 10s
# Repetitions of each Go micro-benchmark in `make bench`.
BENCHCOUNT ?= 6
# Where `make kafka-up` keeps its broker's configuration, data and logs, and
# where it listens (docs/testing.md).
KAFKA_DIR ?= /tmp/feedd-kafka
KAFKA_LISTEN ?= 127.0.0.1:9092
# Where `make install` puts things (DESTDIR is prefixed to all of them, for packaging).
PREFIX         ?= /usr/local
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= /etc/systemd/system
SYSUSERSDIR    ?= /usr/lib/sysusers.d
# Output of `make static`.
STATIC_BIN ?= bin/feedd-static
# How long each soak of `make soak` runs, the fewest faults it injects, and
# which soaks (empty: all four; docs/testing.md).
SOAK ?= 10m
SOAK_MIN_FAULTS ?= 100
SOAK_RUNS ?=
# `make test-feeds`: chaos runs per feed per broker, and faults per run.
FEEDS_RUNS ?= 20
FEEDS_FAULTS ?= 5
# Runs of each fault kind and feed per broker in `make test-repair`.
REPAIR_RUNS ?= 20
# `make test-e2e-streak`: how many runs of `make test-e2e` in a row, and where
# each run's log goes.
E2E_RUNS ?= 20
E2E_LOGS ?= /tmp/feedd-e2e-streak

.PHONY: all build test test-e2e test-e2e-streak test-feeds test-repair soak vet deps deps-demo kafka kafka-up kafka-down demo bench fuzz clean static install deb

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/feedd

# deps installs what the tests and the demo need on a fresh Debian machine
# (socat for the simulated serial ports, promtool to check the alert rules,
# kcat for the chaos suite's independent reading of the topic; a Java
# runtime and Maven for the real Kafka broker) and does nothing when it is
# already there.
deps:
	@missing=""; \
	command -v socat >/dev/null 2>&1 || missing="$$missing socat"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing="$$missing python3-confluent-kafka"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v socat >/dev/null 2>&1 || { echo "socat is still missing: install it (apt-get install socat)"; exit 1; }
	@command -v promtool >/dev/null 2>&1 || { echo "promtool is still missing: install Debian's prometheus package"; exit 1; }
	@command -v kcat >/dev/null 2>&1 || { echo "kcat is still missing: install it (apt-get install kcat)"; exit 1; }
	@command -v mvn >/dev/null 2>&1 || { echo "mvn is still missing: install Maven (apt-get install maven)"; exit 1; }
	@/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || { echo "Debian's python3 cannot import confluent_kafka: apt-get install python3-confluent-kafka (the Python consumer example's test)"; exit 1; }
	@v=$$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'); \
	[ -n "$$v" ] && [ "$$v" -ge 17 ] 2>/dev/null || { echo "Kafka needs Java 17 or newer; java says: $${v:-none}"; exit 1; }

# kafka fetches the pinned Apache Kafka broker from Maven Central into a
# cache outside the repository (scripts/kafka/fetch); a second run finds it.
kafka:
	scripts/kafka/fetch

# kafka-up starts a single-node Kafka on $(KAFKA_LISTEN) in the background,
# as the tests run it; kafka-down stops it and removes $(KAFKA_DIR).
kafka-up: kafka
	$(GO) run ./broadcast/kafkatest/kafkactl up --dir $(KAFKA_DIR) --listen $(KAFKA_LISTEN)

kafka-down:
	$(GO) run ./broadcast/kafkatest/kafkactl down --dir $(KAFKA_DIR)

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }

# test runs every test, including each fuzz target's seed corpus, the
# pipeline's tests against real Kafka (one node and a three-node cluster)
# and the fast slice of the chaos runs on realistic feeds
# (TestE2EFeedChaos), with the race detector; then the chaos suite on real
# Kafka, one node and the three-node cluster (TestChaos*, FEEDD_CHAOS=1), on
# its own so that no other package's tests share the two cores with it.
# About 35 minutes on a two-core machine, the chaos suite 20 of them.
test: deps vet kafka
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_PROMTOOL=1 FEEDD_REQUIRE_KAFKA=1 FEEDD_REQUIRE_PYTHON_KAFKA=1 $(GO) test -race -count=1 -timeout 30m -skip '^TestChaos' $(PKGS)
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_KAFKA=1 FEEDD_CHAOS=1 $(GO) test -race -count=1 -timeout 40m -run '^TestChaos' -v ./e2e

# test-e2e runs only the end-to-end tests: real feedd processes on the
# embedded broker, and the chaos suite on real Kafka, one node and the
# three-node cluster. FEEDD_CHAOS_REPS sets the
# repetitions of each fault (docs/testing.md).
test-e2e: deps kafka
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_KAFKA=1 FEEDD_CHAOS=1 $(GO) test -race -count=1 -timeout 45m -run '^Test(E2E|Chaos)' -v ./e2e

# test-e2e-streak runs test-e2e up to $(E2E_RUNS) times in a row, stops at the
# first failure, and says how many runs passed in a row: the count
# docs/testing.md reports. Each run's log is kept in $(E2E_LOGS). Not in CI:
# about 25 minutes a run on an idle two-core machine.
test-e2e-streak:
	@mkdir -p $(E2E_LOGS); \
	echo "feedd $$(git describe --always --dirty 2>/dev/null), $(E2E_RUNS) runs, logs in $(E2E_LOGS)"; \
	for i in $$(seq 1 $(E2E_RUNS)); do \
		log=$(E2E_LOGS)/run-$$i.log; \
		if $(MAKE) --no-print-directory test-e2e > $$log 2>&1; then \
			echo "$$(date -u +%FT%TZ) run $$i passed"; \
		else \
			echo "$$(date -u +%FT%TZ) run $$i FAILED: $$log"; \
			grep -E '^(    )?--- FAIL' $$log; \
			echo "green in a row: $$((i - 1)) of $(E2E_RUNS)"; exit 1; \
		fi; \
	done; \
	echo "green in a row: $(E2E_RUNS) of $(E2E_RUNS)"

# test-feeds runs the campaign of chaos runs on realistic feeds (NMEA from a
# GPS with and without a fix, AIS, runs of identical sentences), members
# without a sequence extractor: $(FEEDS_RUNS) runs per feed on the embedded
# broker and on Apache Kafka, $(FEEDS_FAULTS) faults each (kill -9, SIGSTOP
# and SIGCONT, SIGTERM of the active, restart of the inactive), each checked
# against the simulator's record by feedd audit --expect and by kcat. It
# stops at the first run that fails and keeps its files (docs/testing.md).
# Not in CI: about five minutes a round of eight runs.
test-feeds: deps kafka
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_KAFKA=1 FEEDD_FEEDS_RUNS=$(FEEDS_RUNS) FEEDD_FEEDS_FAULTS=$(FEEDS_FAULTS) \
		$(GO) test -count=1 -timeout 24h -run '^TestFeedCampaign$$' -v ./e2e

# test-repair runs the repair campaign (decision 0011): $(REPAIR_RUNS) runs of
# each fault on the active's port only (checksums failing, frames dropped
# whole (on the GPS feed only the cross-check sees those, decision 0012), the
# cable pulled for 100 ms and for 2 s, a wrong baud
# rate) on the sequenced feed and a GPS feed without sequence numbers, at 500
# frames a second or more, on the embedded broker and on Apache Kafka, each
# checked against the simulator's record by feedd audit --expect and by kcat.
# Not in CI: about ten seconds a run; make test runs each once.
test-repair: deps kafka
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_KAFKA=1 FEEDD_REPAIR_RUNS=$(REPAIR_RUNS) FEEDD_FEEDS_BROKERS=embedded,kafka \
		$(GO) test -count=1 -timeout 24h -run '^TestE2ERepair$$' -v ./e2e

# checkmetrics starts a real pair of members and runs what each /metrics
# endpoint serves through `promtool check metrics` (TestPromtoolCheckMetrics,
# which `make test` runs too).
.PHONY: checkmetrics
checkmetrics: deps
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_PROMTOOL=1 $(GO) test -count=1 -run '^TestPromtoolCheckMetrics$$' -v ./e2e

# dashboard writes the Grafana dashboard, docs/grafana/feedd-dashboard.json,
# from its Go source in cmd/feedd-dashboard (docs/monitoring.md); commit
# both. A test fails while the two differ.
.PHONY: dashboard
dashboard:
	$(GO) run ./cmd/feedd-dashboard -o docs/grafana/feedd-dashboard.json

# soak (not in CI) injects random faults from the whole failure matrix into
# a pair on real Kafka for $(SOAK), at least $(SOAK_MIN_FAULTS) of them, and
# checks the topic: the sequenced feed and a GPS feed without sequence
# numbers, each on one Kafka node and on a three-node cluster (four soaks,
# one after the other; SOAK_RUNS=seq/cluster runs one). It writes
# docs/reliability.md.
soak: deps kafka
	FEEDD_REQUIRE_SOCAT=1 FEEDD_REQUIRE_KAFKA=1 FEEDD_SOAK=$(SOAK) FEEDD_SOAK_MIN_FAULTS=$(SOAK_MIN_FAULTS) \
		FEEDD_SOAK_RUNS=$(SOAK_RUNS) FEEDD_SOAK_REPORT=$(CURDIR)/docs/reliability.md \
		$(GO) test -count=1 -timeout 6h -run '^TestChaosSoak$$' -v ./e2e

# fuzz runs the pair and repair property tests for PAIR_CHECKS random cases each,
# then each fuzz
# target briefly; FUZZTIME sets how long.
fuzz:
	$(GO) test -count=1 -run '^(TestPairNeverLosesAFrame|TestFillHoleProperty)$$' ./backlog -rapid.checks=$(PAIR_CHECKS)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run=NONE -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

# bench starts a real Kafka broker (the tests' own, broadcast/kafkatest),
# measures feedd against its peers on it (kcat, and feedd without
# transactions), failover, memory and CPU, runs the packages' Go
# benchmarks, and rewrites docs/benchmarks.md (cmd/feedd-bench). About 15
# minutes; BENCH_ARGS adds or overrides settings, e.g.
# make bench BENCH_ARGS='--only throughput,latency --reps 3'
# (go run ./cmd/feedd-bench -h lists them).
BENCH_ARGS ?=
bench: deps build kafka
	$(GO) run ./cmd/feedd-bench --kafka --feedd $(BIN) --go-count $(BENCHCOUNT) $(BENCH_ARGS)

# deps-demo installs what the demo needs and the binary does not carry: socat
# for the simulated serial ports. Like deps, it does nothing when it is there.
deps-demo:
	@command -v socat >/dev/null 2>&1 || { \
		echo "installing: socat"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends socat >/dev/null; \
	}
	@command -v socat >/dev/null 2>&1 || { echo "socat is still missing: install it (apt-get install socat)"; exit 1; }

# demo: the whole pair on this machine: the embedded broker, a simulated feed
# split to two ports (socat ptys), two members, an audit following the topic,
# and a kill -9 of the active member every 15s, shown live on a full screen
# with keys for faults by hand; on q (or Ctrl-C) it stops everything and
# audits the whole topic. DEMO_ARGS adds flags, e.g.
# make demo DEMO_ARGS='--duration 1m --chaos --json' (see feedd demo -h).
demo: deps-demo build
	./$(BIN) demo --dir $(DEMO_DIR) $(DEMO_ARGS)

# static builds a statically linked binary (no cgo, no libc), as deploy/Dockerfile does.
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $(STATIC_BIN) ./cmd/feedd

# install installs the binary, the systemd unit (its paths rewritten for PREFIX and
# SYSCONFDIR), the sysusers.d entry that creates the feedd user, the example configurations,
# the documentation, and the shell completions and man pages the binary writes (feedd
# completion SHELL, feedd gen-man DIR). It creates no user, starts nothing and never touches an existing
# configuration; docs/operations.md ("Installing a member") has the steps that follow.
# DOC_FILES are installed beside docs/ in the repository's layout, so that every link the
# installed documentation has to them leads somewhere: the README, the example configurations
# of a pair, the unit and Dockerfile as written, and the consumer examples.
DOC_FILES := README.md deploy/feedd-host-a.yaml deploy/feedd-host-b.yaml deploy/Dockerfile \
	deploy/systemd/feedd.service examples/consumer/main.go examples/consumer/consumer.py

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/feedd
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	sed -e 's|/usr/local/bin/feedd|$(PREFIX)/bin/feedd|g' -e 's|/usr/local/share/doc/feedd|$(PREFIX)/share/doc/feedd|g' \
		-e 's|/etc/feedd|$(SYSCONFDIR)/feedd|g' deploy/systemd/feedd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/feedd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/feedd.service
	sed -e 's|$(SYSCONFDIR)/feedd/feedd\.yaml|$(SYSCONFDIR)/feedd/%i.yaml|g' -e 's|$(SYSCONFDIR)/feedd/feedd\.env|$(SYSCONFDIR)/feedd/%i.env|g' \
		-e 's|^Description=\(.*\)$$|Description=\1, feed %i|' \
		$(DESTDIR)$(SYSTEMDUNITDIR)/feedd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/feedd@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/feedd@.service
	install -m 0644 deploy/systemd/feedd.sysusers $(DESTDIR)$(SYSUSERSDIR)/feedd.conf
	for f in $(DOC_FILES); do install -D -m 0644 $$f $(DESTDIR)$(PREFIX)/share/doc/feedd/$$f || exit 1; done
	find docs -type f ! -name '*.go' -exec install -D -m 0644 {} $(DESTDIR)$(PREFIX)/share/doc/feedd/{} \;
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(PREFIX)/share/man/man1
	$(BIN) completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/feedd
	$(BIN) completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_feedd
	$(BIN) completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/feedd.fish
	$(BIN) gen-man $(DESTDIR)$(PREFIX)/share/man/man1
	chmod 0644 $(DESTDIR)$(PREFIX)/share/bash-completion/completions/feedd $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_feedd \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/feedd.fish $(DESTDIR)$(PREFIX)/share/man/man1/feedd*.1
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/feedd
	@echo "installed under $(DESTDIR)$(PREFIX); next: systemd-sysusers, a configuration in $(SYSCONFDIR)/feedd/feedd.yaml, systemctl enable --now feedd (or, one member per feed, $(SYSCONFDIR)/feedd/NAME.yaml and feedd@NAME)"

# deb builds a Debian package, $(DEB_DIR)/feedd_$(DEB_VERSION)_$(DEB_ARCH).deb: what `make install`
# installs (a static binary, the systemd units and the template, the sysusers.d entry, shell
# completions, man pages, examples and documentation) under /usr, with deploy/debian's control
# file and scripts. Installing it creates the feedd user and starts nothing. It needs dpkg-deb
# only (Debian's dpkg); docs/operations.md says how to install it.
DEB_DIR        ?= bin
DEB_VERSION    ?= 0.0~$(subst -,.,$(VERSION))
DEB_ARCH       ?= $(shell dpkg --print-architecture 2>/dev/null || $(GO) env GOARCH)
DEB_MAINTAINER ?= feedd developers <feedd@localhost>
deb:
	@command -v dpkg-deb >/dev/null 2>&1 || { echo "dpkg-deb is missing: apt-get install dpkg"; exit 1; }
	rm -rf $(DEB_DIR)/deb-root
	CGO_ENABLED=0 $(MAKE) --no-print-directory install BIN=$(DEB_DIR)/feedd-deb DESTDIR=$(abspath $(DEB_DIR))/deb-root \
		PREFIX=/usr SYSCONFDIR=/etc SYSTEMDUNITDIR=/usr/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d >/dev/null
	install -d -m 0755 $(DEB_DIR)/deb-root/DEBIAN
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e 's|^Maintainer: .*|Maintainer: $(DEB_MAINTAINER)|' \
		deploy/debian/control > $(DEB_DIR)/deb-root/DEBIAN/control
	install -m 0755 deploy/debian/postinst deploy/debian/postrm $(DEB_DIR)/deb-root/DEBIAN/
	dpkg-deb --root-owner-group --build $(DEB_DIR)/deb-root $(DEB_DIR)/feedd_$(DEB_VERSION)_$(DEB_ARCH).deb
	rm -rf $(DEB_DIR)/deb-root $(DEB_DIR)/feedd-deb

clean:
	rm -rf bin
