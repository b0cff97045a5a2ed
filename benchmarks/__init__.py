"""Speed comparisons for issue 7; run as `python benchmarks/run.py` (see README.md)."""
