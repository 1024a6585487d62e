"""The `phasegate` command: install the embedded SkillMeat, run a phase, read saved verdicts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema

from phasegate.outcomes import Kind
from phasegate.phases import PhaseError, parse_phase
from phasegate.rollout_log import RolloutLogError, fill_rollout_log, select_latest
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


class _BadVerdict(Exception):
    """A verdict file that cannot be read or breaks the schema; the message names the file."""


def _load_verdict(path: Path) -> dict[str, Any]:
    """Read and validate a saved verdict, so every command rejects a bad file the same way."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise _BadVerdict(f"cannot read {path}: {exc}") from None
    try:
        if not isinstance(document, dict):
            raise jsonschema.ValidationError(f"a {type(document).__name__}, not an object")
        validate(document)
    except jsonschema.ValidationError as exc:
        raise _BadVerdict(f"{path} is not a phasegate verdict: {exc.message}") from None
    return document


def _contract_failure(failure: dict[str, Any]) -> str:
    """One failing case as a person retries it: what was checked, sent and answered."""
    return (
        f"{failure.get('check')} ({failure.get('mode')}): {failure.get('method')} "
        f"{failure.get('path')} -> {failure.get('status')}: {failure.get('title')}"
    )


def _severity_column(check: dict[str, Any]) -> str:
    """block / warn and the rule that decided it (older verdicts carry neither: blocking only)."""
    severity = check.get("severity") or ("block" if check["blocking"] else "warn")
    rule = check.get("rule")
    return f"{severity} ({rule})" if rule else str(severity)


def _explain(args: argparse.Namespace) -> int:
    path = Path(args.verdict)
    try:
        document = _load_verdict(path)
    except _BadVerdict as exc:
        print(f"phasegate explain: {exc}", file=sys.stderr)
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
            _severity_column(c),
            c.get("reason", "")[:90],
        )
        for c in checks
    ]
    widths = [max([len(r[i]) for r in rows] + [4]) for i in range(4)]
    for check, row in zip(checks, rows, strict=True):
        print("  ".join(col.ljust(widths[i]) for i, col in enumerate(row[:4])) + "  " + row[4])
        facts = (check.get("evidence") or {}).get("facts", {})
        gate = facts.get("gate")
        if isinstance(gate, dict) and "threshold" in gate:
            print(" " * (sum(widths) + 8) + _gate_numbers(gate))
        contract = facts.get("contract")
        if isinstance(contract, dict):
            for failure in contract.get("failures", []):
                print(f"    {_contract_failure(failure)}")
                print(f"      {failure.get('curl', '')}")
    for reason in document.get("reasons", []):
        print(f"reason: {reason}")
    return 0


def _log(args: argparse.Namespace) -> int:
    """Write a copy of the plan with its Rollout Log filled; the plan itself stays as it is."""
    plan = Path(args.plan)
    output = Path(args.output) if args.output is not None else Path("reports/rollout-plan.md")
    if args.output is None and output.resolve() == plan.resolve():
        print(
            f"phasegate log: the default output {output} is the --plan file itself; "
            "pass --output explicitly to overwrite it",
            file=sys.stderr,
        )
        return 4
    try:
        # Bytes, not read_text: universal newlines would turn CRLF into LF on the way through.
        text = plan.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"phasegate log: cannot read --plan {plan}: {exc}", file=sys.stderr)
        return 4
    verdicts: list[tuple[str, dict[str, Any]]] = []
    for name in args.verdicts:
        try:
            verdicts.append((Path(name).name, _load_verdict(Path(name))))
        except _BadVerdict as exc:
            print(f"phasegate log: {exc}", file=sys.stderr)
            return 4
    try:
        filled = fill_rollout_log(text, verdicts)
        entries = select_latest(verdicts)
    except RolloutLogError as exc:
        print(f"phasegate log: --plan {plan}: {exc}", file=sys.stderr)
        return 4
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_bytes(filled.encode("utf-8"))
        tmp.replace(output)
    except OSError as exc:
        print(f"phasegate log: cannot write {output}: {exc}", file=sys.stderr)
        return 4
    print(f"phasegate log: wrote {output}")
    for phase, entry in entries.items():
        print(f"  Phase {phase}: {entry.status} {entry.actual_date} ({entry.source})")
    return 0


def _drill(args: argparse.Namespace) -> int:
    """Run the plan's emergency procedures as timed drills; the decision is the exit status."""
    from phasegate.drills.allure_timeline import write_allure
    from phasegate.drills.runner import DRILLS, Deployment, DrillRun, now_utc
    from phasegate.verdict import write

    commands = {
        "--disable-cmd": args.disable_cmd,
        "--enable-cmd": args.enable_cmd,
        "--rollback-cmd": args.rollback_cmd,
        "--forward-cmd": args.forward_cmd,
        "--backup-cmd": args.backup_cmd,
        "--restore-cmd": args.restore_cmd,
    }
    given = [option for option, value in commands.items() if value]
    if given and not args.api_url:
        print(
            f"phasegate drill: {', '.join(given)} change a deployment and need --api-url; "
            "without it the drills run on the embedded SkillMeat",
            file=sys.stderr,
        )
        return 4
    if args.api_url and not args.api_url.startswith(("http://", "https://")):
        print(f"phasegate drill: --api-url {args.api_url!r} is not an http(s) URL", file=sys.stderr)
        return 4
    names = list(DRILLS) if args.drill == "all" else [args.drill]
    report_dir = Path(args.report_dir)
    run = DrillRun(
        report_dir=report_dir,
        progress=lambda m: print(f"phasegate drill: {m}", flush=True),
        skillmeat_version=args.skillmeat_version,
        previous_version=args.previous_version,
    )
    started_at = now_utc()
    deployment = (
        Deployment(args.api_url, args.disable_cmd, args.enable_cmd, args.rollback_cmd,
                   args.forward_cmd, args.backup_cmd, args.restore_cmd)
        if args.api_url
        else None
    )  # fmt: skip
    results = []
    for name in names:
        print(f"phasegate drill: {name} ...", flush=True)
        result = run.deployed(name, deployment) if deployment else run.embedded(name)
        print(f"phasegate drill: {name}: {result.outcome.value.upper()}: {result.reason}")
        results.append(result)
    target = {
        "api_url": args.api_url or "embedded",
        "version": "v1",
        "embedded": deployment is None,
        "skillmeat_version": None if deployment else args.skillmeat_version,
    }
    verdict = run.verdict(results, target, started_at)
    path = write(verdict, report_dir)
    write_allure(results, report_dir / "allure-results")
    print(f"phasegate drill: {verdict.decision.value} ({path})")
    return verdict.exit_code


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
    explain.add_argument("--kind", choices=[kind.value for kind in Kind], help="only this kind")
    log = sub.add_parser(
        "log", help="fill the plan's Rollout Log table from saved verdicts, in a copy of the plan"
    )
    log.add_argument("verdicts", nargs="+", metavar="VERDICT.json")
    log.add_argument("--plan", required=True, help="the rollout plan (markdown); read only")
    log.add_argument(
        "--output", help="where to write the filled copy (default: reports/rollout-plan.md)"
    )
    drill = sub.add_parser(
        "drill",
        help="the plan's emergency procedures as timed drills (embedded SkillMeat by default)",
    )
    drill.add_argument("drill", choices=["disable", "rollback", "recover", "all"])
    drill.add_argument("--report-dir", default="reports", help="verdict-drill.json goes here")
    drill.add_argument("--skillmeat-version", default="0.74.0", help="the release under test")
    drill.add_argument(
        "--previous-version", help="the release to roll back to (default: PyPI's one before)"
    )
    drill.add_argument(
        "--api-url", help="a deployment to drill (causes downtime; needs your commands)"
    )
    drill.add_argument("--disable-cmd", help="shell command that disables the feature")
    drill.add_argument("--enable-cmd", help="shell command that enables it again")
    drill.add_argument("--rollback-cmd", help="shell command that rolls back one release")
    drill.add_argument("--forward-cmd", help="shell command that rolls forward again")
    drill.add_argument(
        "--backup-cmd", help="shell command that backs up the database (the plan's step 2)"
    )
    drill.add_argument(
        "--restore-cmd",
        help="shell command that stops the API, restores the last backup and starts it again",
    )
    args, extra = parser.parse_known_args(argv)
    if args.command != "gate" and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "install-skillmeat":
        return _install(args)
    if args.command == "gate":
        return _gate(args, extra)
    if args.command == "log":
        return _log(args)
    if args.command == "drill":
        return _drill(args)
    return _explain(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
