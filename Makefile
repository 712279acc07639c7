# feredge: train (Keras) -> convert (TFLite) -> run on a Raspberry Pi or laptop (no TensorFlow) -> benchmark.
# `make help` lists the targets. Variables can be overridden: make train DATA=path/to/fer2013.csv EPOCHS=1
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
DATA ?= data/fer2013.csv
RECIPE ?= wide-bf16-tail
PARTS ?= 2
# The study's recipe and per-run budget: cheaper than the shipped models' so 3 seeds x 2 variants fit a session
STUDY_RECIPE ?= compact
EPOCHS ?=
SEED ?= 0
VARIANTS ?= unweighted weighted
SEEDS ?= 0 1 2
STUDY_EPOCHS ?= 16
JOBS ?= 2
RUNS ?= runs
MODELS_DIR ?= models
CALIBRATION_SIZE ?= 500
MAX_INT8_DROP ?= 0.5
SOURCE ?= 0
MODEL ?= $(MODELS_DIR)/unweighted_int8.tflite
DEMO_ARGS ?=
BENCH_ARGS ?=
CALIBRATE_ARGS ?=
SMOOTHING_ARGS ?=
# make device-crops: the Training faces cut as the device cuts them (recipes with device_crops train on them)
DEVICE_CROPS_ARGS ?=
CONVERT_ARGS ?=
CLIP_DIR ?= benchmarks/clips
CLIP_STYLE ?= pasted
# make compare: a candidate models folder judged against MODELS_DIR (the shipped models)
CANDIDATE ?= candidate
COMPARE_ARGS ?=
PYTEST_ARGS ?=
# make quickstart: the whole chain on the real data in minutes, in its own folder (never touches runs/ or models/)
QUICK_DIR ?= quickstart
QUICK_RECIPE ?= compact
QUICK_EPOCHS ?= 2

EPOCHS_FLAG := $(if $(strip $(EPOCHS)),--epochs $(EPOCHS))

.PHONY: help setup setup-device test lint train convert study study-report readme calibrate smoothing device-crops clip bench compare demo clean quickstart mutation gpu-pack carry

help:
	@echo "make setup                 venv in $(VENV) with everything (training, device, tests)"
	@echo "make setup-device          venv with the device requirements only (no TensorFlow)"
	@echo "make test                  run the test suite"
	@echo "make lint                  ruff, and the layer rule (import-linter contract in pyproject.toml)"
	@echo "make quickstart DATA=...   the whole chain in minutes: $(QUICK_RECIPE) x $(QUICK_EPOCHS) epochs, both variants,"
	@echo "                            convert, quick benchmark, bundle, all under $(QUICK_DIR)/"
	@echo "make mutation              mutation check: does the suite catch the known bugs? (MUTANTS=name ...)"
	@echo "make train DATA=...        train (RECIPE=$(RECIPE) EPOCHS=<recipe's> SEED=$(SEED) VARIANTS='$(VARIANTS)')"
	@echo "make carry RUNS_TO_CARRY=...  keep unfinished runs (<recipe>-<E>ep/<variant>-seed<S>) in reports/carry/ to"
	@echo "                            commit: make train resumes them in a new checkout"
	@echo "make convert DATA=...      TFLite float32/float16/dynamic/int8 of VARIANTS into $(MODELS_DIR)/ (others kept;"
	@echo "                            mirror averaging built in, CONVERT_ARGS=--no-mirror for one view per face)"
	@echo "make study DATA=...        class weights or not: STUDY_RECIPE=$(STUDY_RECIPE) STUDY_EPOCHS=$(STUDY_EPOCHS) SEEDS='$(SEEDS)'"
	@echo "                            (STUDY_EPOCHS='16 32 64': the training budget as a factor)"
	@echo "make study-report DATA=... the same study's reports from the budgets already trained, training nothing"
	@echo "make calibrate DATA=...    fit each detector's box -> FER2013 framing (device/models/framing.json)"
	@echo "make smoothing DATA=...    choose the label smoothing's settings on Training faces (reports/smoothing/)"
	@echo "make device-crops DATA=... Training faces placed, re-detected and cut as the device cuts them"
	@echo "                            ($(RUNS)/device-crops/; RECIPE=student-deep-device-tail trains on them)"
	@echo "make gpu-pack DATA=...     data and wheels to carry to a lent GPU machine (.gpu/, PARTS=2; README: Training on"
	@echo "                            a lent GPU machine)"
	@echo "make clip DATA=...         labelled benchmark video from the dataset's test faces (CLIP_STYLE=photos"
	@echo "                            CLIP_DIR=benchmarks/clips/photos: put where real photos' faces were)"
	@echo "make bench DATA=...        accuracy + latency report in benchmarks/results/<host>-<date>/"
	@echo "make compare DATA=...      a candidate (make convert MODELS_DIR=$(CANDIDATE) RECIPE=...) against $(MODELS_DIR)/:"
	@echo "                            paired accuracy, face-box jitter, detector crops, ship or keep (reports/compare/)"
	@echo "make demo SOURCE=0         live demo (SOURCE: camera index, picamera2, video, folder)"
	@echo "make detector-models       re-extract the BlazeFace models into device/models/ from the pinned MediaPipe wheel"
	@echo "make bundle / make deploy PI=user@host   Raspberry Pi bundle and SSH deployment"
	@echo "make readme                the README's generated blocks (results, recipes) from the manifest and reports"
	@echo "make clean                 remove build and tool caches (dist/, .pytest_cache, .ruff_cache)"

$(PYTHON):
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip

setup: $(PYTHON)
	$(PYTHON) -m pip install -r requirements/dev.txt
	$(PYTHON) -m pip install --no-deps -e .

setup-device: $(PYTHON)
	$(PYTHON) -m pip install -r requirements/device.txt
	$(PYTHON) -m pip install --no-deps -e .

test:
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check .
	$(VENV)/bin/lint-imports

train:
	$(PYTHON) -m train --data $(DATA) --recipe $(RECIPE) $(EPOCHS_FLAG) --seed $(SEED) --variants $(VARIANTS) \
		--runs $(RUNS)

carry:
	$(PYTHON) -m train.carry --runs-root $(RUNS) $(RUNS_TO_CARRY)

convert:
	$(PYTHON) -m convert --data $(DATA) --recipe $(RECIPE) $(EPOCHS_FLAG) --seed $(SEED) --variants $(VARIANTS) \
		--runs $(RUNS) --out $(MODELS_DIR) --calibration-size $(CALIBRATION_SIZE) --max-int8-drop $(MAX_INT8_DROP) \
		$(CONVERT_ARGS)

study:
	$(PYTHON) -m train.study --data $(DATA) --recipe $(STUDY_RECIPE) --epochs $(STUDY_EPOCHS) --seeds $(SEEDS) --runs $(RUNS) \
		--jobs $(JOBS)

gpu-pack:
	$(PYTHON) -m train.gpu pack --data $(DATA) --parts $(PARTS)

study-report:
	$(PYTHON) -m train.study --data $(DATA) --recipe $(STUDY_RECIPE) --epochs $(STUDY_EPOCHS) --seeds $(SEEDS) --runs $(RUNS) \
		--report-only

readme:
	$(PYTHON) -m train.results --readme README.md --models $(MODELS_DIR)
	$(PYTHON) -m train.catalog --readme README.md --models $(MODELS_DIR)

calibrate:
	$(PYTHON) -m benchmarks calibrate --data $(DATA) $(CALIBRATE_ARGS)

smoothing:
	$(PYTHON) -m benchmarks smoothing --data $(DATA) $(SMOOTHING_ARGS)

clip:
	$(PYTHON) -m benchmarks clip --data $(DATA) --out $(CLIP_DIR) --style $(CLIP_STYLE)

bench:
	$(PYTHON) -m benchmarks run --models $(MODELS_DIR) $(if $(wildcard $(DATA)),--data $(DATA)) \
		$(if $(wildcard $(CLIP_DIR)/clip.*),--clip $(firstword $(wildcard $(CLIP_DIR)/clip.mp4 $(CLIP_DIR)/clip.avi))) \
		$(BENCH_ARGS)

device-crops:
	$(PYTHON) -m benchmarks device-crops --data $(DATA) --runs $(RUNS) $(DEVICE_CROPS_ARGS)

compare:
	$(PYTHON) -m benchmarks compare --models $(MODELS_DIR) --candidate $(CANDIDATE) --data $(DATA) $(COMPARE_ARGS)

demo:
	$(PYTHON) -m device --source $(SOURCE) --model $(MODEL) $(DEMO_ARGS)

.PHONY: detector-models
detector-models:
	$(PYTHON) -m device.models.fetch

quickstart:
	@echo "== quickstart: train $(QUICK_RECIPE) for $(QUICK_EPOCHS) epochs (both variants), convert, benchmark, bundle into $(QUICK_DIR)/"
	$(MAKE) train RECIPE=$(QUICK_RECIPE) EPOCHS=$(QUICK_EPOCHS) RUNS=$(QUICK_DIR)/runs DATA=$(DATA)
	$(MAKE) convert RECIPE=$(QUICK_RECIPE) EPOCHS=$(QUICK_EPOCHS) RUNS=$(QUICK_DIR)/runs MODELS_DIR=$(QUICK_DIR)/models \
		DATA=$(DATA) MAX_INT8_DROP=5
	$(PYTHON) -m benchmarks run --models $(QUICK_DIR)/models --data $(DATA) --quick --no-progress --out $(QUICK_DIR)/bench
	$(MAKE) bundle MODELS_DIR=$(QUICK_DIR)/models DIST=$(QUICK_DIR)/dist
	@echo "== quickstart done: $(QUICK_DIR)/bench/report.md, $(QUICK_DIR)/dist/; try: $(PYTHON) -m device --model $(QUICK_DIR)/models/unweighted_int8.tflite --source 0"

mutation:
	$(PYTHON) tests/mutation.py $(if $(strip $(MUTANTS)),--only $(MUTANTS))

clean:
	rm -rf dist .pytest_cache .ruff_cache

PYTHON ?= $(VENV)/bin/python
include deploy/deploy.mk
