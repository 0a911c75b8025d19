"""fupin's benchmarks: `make bench` (= `python -m benchmarks`) runs them and writes
docs/benchmarks.md. A benchmark never fails on time; it reports what it measured."""
