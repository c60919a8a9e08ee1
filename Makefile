# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cnnlab-installed

.PHONY: setup demo test bench stress lint clean

# Bytecode for cnnlab's own sources, refreshed on every make: Python writes it itself unless
# PYTHONDONTWRITEBYTECODE is set (as in many containers), and without it every command
# compiled the sources again, 0.09 s of each start (benchmarks/README.md, issue #24).
setup: $(STAMP)
	@$(BIN)/python -m compileall -q src/cnnlab

# --system-site-packages lets a torch that is already installed (e.g. a CUDA build) be reused;
# only when none is importable do we install the CPU build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev,tensorboard,notebook,export,serve,mlflow]'
	touch $(STAMP)

demo: setup
	$(BIN)/cnnlab train configs/quickstart.yaml

test: setup
	$(BIN)/python -m pytest

# Benchmarks read the full datasets from $$CNNLAB_DATA (each skips, saying so, without it).
bench: setup
	$(BIN)/python benchmarks/data_load.py
	$(BIN)/python benchmarks/course_baselines.py
	$(BIN)/python benchmarks/recipes_quick.py
	$(BIN)/python benchmarks/scratch_speed.py --threads 1 --clock cpu
	$(BIN)/python benchmarks/speed.py

# Faults on purpose (kill -9, signals, sweep kills) and 10,000 fuzzed inputs per reader:
# figures for docs/RELIABILITY.md; ~16 min on 2 cores.
stress: setup
	$(BIN)/python benchmarks/stress_kill.py
	$(BIN)/python benchmarks/fuzz_readers.py
	$(BIN)/python benchmarks/stress_inputs.py

lint: setup
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
