"""Benchmarks run by `make bench`: throughput and memory measured on this machine, printed as one table."""
