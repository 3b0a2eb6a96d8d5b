"""Prompts: templates and phrases, versions."""
