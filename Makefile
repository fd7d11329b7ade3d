# One command each for the everyday jobs. `make dev` first, in a virtual environment.
.PHONY: dev format lint test bench pictures

dev:  ## build the extension in place and install the development tools
	pip install -e '.[dev]'

format:
	cargo fmt
	ruff format python tests benches examples docs noxfile.py
	ruff check --fix python tests benches examples docs noxfile.py

lint:
	cargo fmt --check
	cargo clippy --all-targets --features python -- -D warnings
	ruff format --check python tests benches examples docs noxfile.py
	ruff check python tests benches examples docs noxfile.py
	mypy
	python -m mypy.stubtest onecycle._core --allowlist stubtest-allowlist.txt --ignore-unused-allowlist

test:  ## the README's test command, without the install
	cargo test
	pytest

bench:  ## the README's table (python benches/bench.py --json for JSON), then the Rust core's criterion benches
	maturin develop --release --features python,bench  # the floors are measured in the same run
	python benches/bench.py
	python benches/bench.py --compile
	cargo bench --features bench --bench core

pictures:  ## redraw the README's pictures (docs/img/): `onecycle plot`'s, and a range test on digits
	python docs/pictures.py
