"""Benchmarks of fraudlog; run each as `python -m bench.<name>` (see bench/README.md)."""
