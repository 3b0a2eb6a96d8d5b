"""Evaluation suites: runner, expectations, metrics, reports and the CI gate."""
