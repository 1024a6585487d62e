"""Helpers shared by the project's own tests (not by the acceptance suite in tests/)."""
