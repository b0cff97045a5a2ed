"""Speed comparisons; run as `python -m benchmarks.run` (see README.md)."""
