# swarmauth: `make help` lists the targets.

GO          ?= go
PKG         := github.com/swarmauth/swarmauth
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X $(PKG)/internal/buildinfo.Version=$(VERSION)
BIN         := bin/docker-swarmauth
PLUGIN_DIR  := $(if $(DOCKER_CONFIG),$(DOCKER_CONFIG),$(HOME)/.docker)/cli-plugins
UNIT_PKGS    = $(shell $(GO) list ./... | grep -v '^$(PKG)/e2e$$')
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
E2E_FLAGS   ?= -v -timeout 45m

.DEFAULT_GOAL := help
BENCH_FLAGS ?= -services 200 -rounds 3

.PHONY: help build install test unit e2e lint docs deps demo bench clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the plugin binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cli-plugin

install: build ## Install the plugin into DOCKER_CONFIG/cli-plugins (default ~/.docker)
	install -D -m 0755 $(BIN) $(PLUGIN_DIR)/docker-swarmauth
	@echo "installed $(PLUGIN_DIR)/docker-swarmauth; try: docker swarmauth --help"

test: unit e2e ## Unit tests, then the e2e tests on sandbox Engines (the CI command)

unit: ## gofmt and go vet checks, then the unit tests
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo 'gofmt: the files above need formatting'; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 $(UNIT_PKGS)

e2e: deps build ## End-to-end tests against sandbox Engines (needs root; installs what is missing)
	SWARMAUTH_E2E_PLUGIN=$(abspath $(BIN)) $(GO) test -count=1 $(E2E_FLAGS) ./e2e/

demo: deps build ## See it work: a sandbox swarm, an expired login, a new node failing, refresh fixing it (root)
	SWARMAUTH_E2E_PLUGIN=$(abspath $(BIN)) $(GO) run ./e2e/cmd/demo

bench: deps build ## Benchmark refresh against the cron loop and the raw API floor on the sandbox (root)
	SWARMAUTH_E2E_PLUGIN=$(abspath $(BIN)) $(GO) run ./e2e/cmd/bench $(BENCH_FLAGS)

lint: ## gofmt, go vet, staticcheck, and a check that docs/reference is up to date
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo 'gofmt: the files above need formatting'; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@tmp=$$(mktemp -d) && cp -r docs/reference/. $$tmp && $(GO) run ./docs/generate -source docs/reference -target $$tmp \
		&& diff -ru docs/reference $$tmp && rm -rf $$tmp || { echo 'docs/reference is stale: run make docs'; rm -rf $$tmp; exit 1; }

docs: ## Regenerate the command reference in docs/reference
	$(GO) run ./docs/generate

deps: ## Install what the e2e sandbox needs (docker.io, iproute2, iptables), only if missing
	@scripts/ensure-deps.sh

clean: ## Remove build output
	rm -rf bin
