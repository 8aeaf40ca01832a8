"""Benchmarks for counter: the Store, any CountAPI-compatible HTTP service, a comparison."""
