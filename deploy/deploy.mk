# Raspberry Pi bundle and deployment (see deploy/README-pi.md). Include from the Makefile: include deploy/deploy.mk
#   make bundle [MODELS="unweighted_int8 weighted_int8"] [MODELS_DIR=models] [BUNDLE_ARGS=...]
#   make deploy PI=pi@raspberrypi.local [PI="pi@a pi@b"] [SSH_OPTS="-p 2222 -i ~/.ssh/pi"] [DEPLOY_ARGS=--systemd]
PYTHON ?= .venv/bin/python
DIST ?= dist
MODELS_DIR ?= models
MODELS ?=
BUNDLE_ARGS ?=
PI ?=
DEPLOY_ARGS ?=

.PHONY: bundle deploy
bundle:
	$(PYTHON) -m deploy.bundle --out $(DIST) --models-dir $(MODELS_DIR) $(if $(strip $(MODELS)),--models $(MODELS)) $(BUNDLE_ARGS)

deploy: bundle
	$(PYTHON) -m deploy.deploy --bundle $(DIST) $(DEPLOY_ARGS) $(PI)
