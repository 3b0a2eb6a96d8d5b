"""Fakes at the model boundary, shared by tests, benchmarks and evals. No network, no real model."""
