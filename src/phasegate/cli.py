"""The `phasegate` command: install the embedded SkillMeat, run a phase, read a saved verdict."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema

from phasegate.phases import PhaseError, parse_phase
from phasegate.stack.venv import InstallError, ensure_skillmeat
from phasegate.verdict import validate


def _install(args: argparse.Namespace) -> int:
    try:
        python = ensure_skillmeat(args.version, lambda m: print(f"phasegate: {m}", flush=True))
    except InstallError as exc:
        print(f"phasegate: {exc}", file=sys.stderr)
        return 1
    print(f"phasegate: SkillMeat {args.version} ready ({python})")
    return 0


def _gate(args: argparse.Namespace, extra: list[str]) -> int:
    import pytest

    try:
        phase = parse_phase(args.phase)
    except PhaseError as exc:
        print(f"phasegate gate: {exc}", file=sys.stderr)
        return 4
    return int(pytest.main(["-m", phase.value, *extra]))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _gate_numbers(gate: dict[str, Any]) -> str:
    """One line of a gate's evidence: what was seen, its bound, the threshold, over what."""
    window = gate.get("window")
    duration = window.get("duration", "?") if isinstance(window, dict) else "?"
    return (
        f"observed {_number(gate.get('observed'))} bound {_number(gate.get('bound'))} "
        f"{gate.get('comparator', '')} {_number(gate.get('threshold'))} {gate.get('unit', '')}; "
        f"samples {gate.get('samples')}; window {duration}"
    )


def _explain(args: argparse.Namespace) -> int:
    path = Path(args.verdict)
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"phasegate explain: cannot read {path}: {exc}", file=sys.stderr)
        return 4
    try:
        if not isinstance(document, dict):
            raise jsonschema.ValidationError(f"a {type(document).__name__}, not an object")
        validate(document)
    except jsonschema.ValidationError as exc:
        print(
            f"phasegate explain: {path} is not a phasegate verdict: {exc.message}", file=sys.stderr
        )
        return 4
    print(
        f"{document.get('phase')}: {document.get('decision')}  "
        f"target {document.get('target', {}).get('api_url')}  "
        f"({document.get('started_at')} .. {document.get('finished_at')})"
    )
    checks = [
        c
        for c in document.get("checks", [])
        if (args.all or c["outcome"] != "pass") and (not args.kind or c["kind"] == args.kind)
    ]
    rows = [
        (
            c["outcome"].upper(),
            c["kind"],
            c["id"],
            "block" if c["blocking"] else "warn",
            c.get("reason", "")[:90],
        )
        for c in checks
    ]
    widths = [max([len(r[i]) for r in rows] + [4]) for i in range(4)]
    for check, row in zip(checks, rows, strict=True):
        print("  ".join(col.ljust(widths[i]) for i, col in enumerate(row[:4])) + "  " + row[4])
        gate = (check.get("evidence") or {}).get("facts", {}).get("gate")
        if isinstance(gate, dict) and "threshold" in gate:
            print(" " * (sum(widths) + 8) + _gate_numbers(gate))
    for reason in document.get("reasons", []):
        print(f"reason: {reason}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phasegate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install-skillmeat", help="build SkillMeat's own cached venv")
    install.add_argument("--version", default="0.74.0")
    gate = sub.add_parser("gate", help="run one phase (extra arguments go to pytest)")
    gate.add_argument("phase")
    explain = sub.add_parser("explain", help="print the checks of a saved verdict")
    explain.add_argument("verdict")
    explain.add_argument("--all", action="store_true", help="also list passing checks")
    explain.add_argument(
        "--kind", choices=["smoke", "gate", "load", "contract", "drill"], help="only this kind"
    )
    args, extra = parser.parse_known_args(argv)
    if args.command != "gate" and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "install-skillmeat":
        return _install(args)
    if args.command == "gate":
        return _gate(args, extra)
    return _explain(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
