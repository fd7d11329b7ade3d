# One command each for the everyday jobs. `make dev` first, in a virtual environment.
.PHONY: dev format lint test bench

dev:  ## build the extension in place and install the development tools
	pip install -e '.[dev]'

format:
	cargo fmt
	ruff format python tests benches
	ruff check --fix python tests benches

lint:
	cargo fmt --check
	cargo clippy --all-targets --features python -- -D warnings
	ruff format --check python tests benches
	ruff check python tests benches
	mypy

test:  ## the README's test command, without the install
	cargo test
	pytest

bench:  ## the README's table (python benches/bench.py --json for JSON), then the Rust core's criterion benches
	python benches/bench.py
	cargo bench --bench core
