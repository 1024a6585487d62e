"""Fault-injection self-tests: every smoke check must fail against a target that violates it."""
