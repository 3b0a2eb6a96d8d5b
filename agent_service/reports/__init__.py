"""Lifecycle reports: funnel, lost stages, AI versus human, speed, attribution, segments."""
