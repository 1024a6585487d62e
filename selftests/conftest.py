"""Shared by every self-test: pytester for the plugin tests."""

pytest_plugins = ["pytester"]
