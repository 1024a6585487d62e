"""The embedded default: real services started on 127.0.0.1 for one run, and stopped after it."""
