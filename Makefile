# cairn — build, test and benchmark entry points.
# `make test` is what CI runs (.ci/run); it needs root for FUSE and the VM tests.

GO        ?= go
BIN       ?= bin
PREFIX    ?= /usr/local
GOFLAGS   ?=
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build install up deps test unit integration vet fmt-check bench bench-gluster fuzz proto proto-check clean

all: build

build:
	$(GO) build -o $(BIN)/cairn ./cmd/cairn
	ln -sf cairn $(BIN)/mount.cairn

# install puts cairn in $(PREFIX)/bin and mount.cairn in /sbin so that
# `mount -t cairn` and fstab lines of type cairn find it.
install: build
	install -D -m 0755 $(BIN)/cairn $(DESTDIR)$(PREFIX)/bin/cairn
	install -d $(DESTDIR)/sbin
	ln -sf $(PREFIX)/bin/cairn $(DESTDIR)/sbin/mount.cairn

# up runs the embedded default: a local two-brick mirrored volume.
up: build
	$(BIN)/cairn up

# deps installs the Debian packages the tests need (root only; no-op when present).
deps:
	bash scripts/deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v /integration)

integration: build
	$(GO) test -race -count=1 -timeout 60m -p 1 ./integration/...

test: deps fmt-check vet unit integration

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./vfs/volfile/
	$(GO) test -run '^$$' -fuzz FuzzNames -fuzztime 30s ./brick/posix/
	$(GO) test -run '^$$' -fuzz FuzzRequests -fuzztime 30s ./brick/server/

clean:
	rm -rf $(BIN)

-include Makefile.proto
-include Makefile.bench
