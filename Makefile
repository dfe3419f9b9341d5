# Repro: the commands a newcomer needs. See README.md.
DOTNET ?= dotnet
CONFIG ?= Release

.PHONY: build test repro clean

build:
	$(DOTNET) build Repro.sln -c $(CONFIG)

test:
	$(DOTNET) test Repro.sln -c $(CONFIG)

clean:
	$(DOTNET) clean Repro.sln -c $(CONFIG)
