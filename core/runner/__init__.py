"""Runs of the store in motion: the store-writing callback, executing a run, launching worker processes."""
