"""Benchmarks: `make bench` prints the figures quoted in the README."""
