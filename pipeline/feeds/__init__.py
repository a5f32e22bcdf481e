"""Feeds: the registry, feed parsing, feed state and schedule, health, and polling."""
