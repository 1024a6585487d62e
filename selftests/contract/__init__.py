"""Contract self-tests: every contract check passes on a compliant double and fails on one that
breaks it."""
