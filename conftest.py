"""Top-level conftest: deliberately thin.

Everything phasegate does lives in the `phasegate` plugin (src/phasegate/plugin.py), which the
package registers through its `pytest11` entry point, so users get the same behaviour whether they
run from this checkout or from an installed wheel.
"""
