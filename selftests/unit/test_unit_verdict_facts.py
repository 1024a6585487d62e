"""The facts phasegate reads back from a verdict are part of the verdict schema.

`phasegate explain` reads `evidence.facts.gate` and `evidence.facts.contract`, the Allure
attachments read `contract`, and the plugin turns a passing check's `summary` into its reason.
These tests build those facts with the code that writes them, put them in a verdict, and hold
the schema to them: the real shapes validate, a wrong type is refused, other fact names stay free.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from phasegate.contract.fuzz import CaseFailure, FuzzReport
from phasegate.contract.tally import ContractTraffic, annotate
from phasegate.gates import blind_spots
from phasegate.gates.client_side import ClientCounts, count_client_failures
from phasegate.gates.evaluate import Counts, Observation, Window, evaluate
from phasegate.gates.session import entry_conclusion
from phasegate.gates.spec import load_catalog
from phasegate.gates.triangulate import ServerCounts, judge
from phasegate.outcomes import Kind, Outcome
from phasegate.traffic import top_up
from phasegate.verdict import load_schema, validate
from support.results import check, verdict

T0 = 1_800_000_000.0
WINDOW = Window(T0, T0 + 3600)
CATALOG = load_catalog()


def gate_facts() -> dict[str, Any]:
    """gate.error-rate as the metric-gate check notes it: a result with the contract's 5xx."""
    obs = Observation(query="q", window=WINDOW, counts=Counts(9, 3000, WINDOW.start, WINDOW.end))
    result = evaluate(CATALOG.get("error-rate"), obs)
    entry = {"outcome": result.outcome.value, "evidence": result.to_dict()}
    entry = annotate(entry, ContractTraffic(120, 7, {"contract.post-memory-items": 7}))
    mix = top_up.mix_for_phase("phase2").to_dict()
    return count_client_failures(entry, ClientCounts(3000, 12, 3), mix)["evidence"]


def unmeasured_gate_facts() -> dict[str, Any]:
    """A gate with nothing to judge: observed and bound are null, more data is wanted."""
    result = evaluate(CATALOG.get("error-rate"), Observation(query="q", window=None, error="down"))
    return result.to_dict()


def blind_spot_facts() -> dict[str, Any]:
    """gate.client-server-agree: client and server counts, the window as two scrape times."""
    before = ServerCounts(1000.0, 2.0, 0.0, T0)
    after = ServerCounts(1450.0, 2.0, 3.0, T0 + 60)
    client = {"requests": 453, "server_errors": 0, "rate_limited": 3}
    return {**judge(453, 0, 3, before, after, 2).facts, "client": client}


def per_class_facts() -> dict[str, Any]:
    """gate.blind-spots: per answer class, what each metric the plan relies on counted."""
    views = blind_spots.plan_views("", CATALOG.for_phase("phase2"))
    client = {"2xx": 400, "4xx": 30, "429": 3, "5xx": 20, "transport": 2}
    before = dict.fromkeys(blind_spots.CLASS_QUERIES, 0.0)
    after = {"2xx": 400.0, "4xx": 30.0, "429": 3.0, "5xx": 20.0, "errors": 0.0, "histogram": 453.0}
    return dict(blind_spots.compare(client, before, after, views).facts)


def contract_report() -> FuzzReport:
    """A contract check's report with one failing case and its reproduction."""
    report = FuzzReport("POST /memory-items/import", "full")
    report.examples.update({"positive": 20, "negative": 20})
    report.statuses.update({422: 20, 500: 19, 200: 1})
    report.ungenerated.append("negative")
    report.add_failure(
        CaseFailure(
            check="not_a_server_error",
            title="Server error",
            message="Server error\n[500] Internal Server Error",
            mode="positive",
            method="POST",
            path="/api/v1/memory-items/import",
            query={"project_id": "p-1"},
            body={"in_dir": "/tmp/phasegate-projects/run/x", "count": -(2**40)},
            status=500,
            response_body="Internal Server Error",
            curl="curl -X POST http://127.0.0.1:9/api/v1/memory-items/import",
        )
    )
    return report


def contract_facts() -> dict[str, Any]:
    return contract_report().to_dict()


def gate_check_facts(gate: dict[str, Any], outcome: str = "fail") -> dict[str, Any]:
    """The facts a metric-gate check notes, from its stored entry (gates.session)."""
    entry = {"outcome": outcome, "reason": "as judged", "evidence": gate}
    return dict(entry_conclusion(entry).facts)


def document(*checks_facts: tuple[Kind, dict[str, Any]]) -> dict[str, Any]:
    checks = [
        check(
            f"x.check-{i}",
            Outcome.PASS,
            kind=kind,
            evidence={"facts": facts, "exchanges": [], "exchanges_total": 0},
        )
        for i, (kind, facts) in enumerate(checks_facts)
    ]
    return verdict(checks, phase="phase2").to_dict()


def real_document() -> dict[str, Any]:
    return document(
        (Kind.GATE, gate_check_facts(gate_facts())),
        (Kind.GATE, gate_check_facts(unmeasured_gate_facts(), "inconclusive")),
        (Kind.GATE, {**gate_check_facts(blind_spot_facts(), "pass"), "traffic": []}),
        (Kind.GATE, gate_check_facts({}, "inconclusive")),
        (Kind.CONTRACT, dict(contract_report().conclusion().facts)),
        (Kind.GATE, gate_check_facts(per_class_facts(), "fail")),
    )


def test_the_facts_phasegate_reads_are_described_by_the_schema() -> None:
    facts = load_schema()["$defs"]["facts"]
    assert {"summary", "gate", "contract"} <= set(facts["properties"])
    # Any other fact a check notes stays allowed.
    assert facts.get("additionalProperties", True) is not False


def test_real_shaped_facts_validate() -> None:
    validate(real_document())


def test_every_field_the_code_writes_is_typed_in_the_schema() -> None:
    """A field added to a result without a schema entry would be an unwritten contract again."""
    defs = load_schema()["$defs"]
    written_gate = set(gate_facts()) | set(unmeasured_gate_facts()) | set(blind_spot_facts())
    written_gate |= set(per_class_facts())
    assert written_gate <= set(defs["gate_facts"]["properties"])
    report = contract_facts()
    assert set(report) <= set(defs["contract_facts"]["properties"])
    assert set(report["failures"][0]) <= set(defs["contract_failure"]["properties"])


def test_a_gate_that_could_not_measure_writes_special_numbers_as_text() -> None:
    """NaN cannot travel in JSON: the result writes it as text, which the schema allows."""
    facts = gate_facts() | {"observed": "NaN", "bound": "Infinity"}
    validate(document((Kind.GATE, {"gate": facts})))


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _facts(index: int, *rest: str | int) -> tuple[str | int, ...]:
    return ("checks", index, "evidence", "facts", *rest)


WRONG = {
    "summary not text": _set(_facts(0, "summary"), 3),
    "gate not an object": _set(_facts(0, "gate"), "error-rate failed"),
    "gate threshold as text": _set(_facts(0, "gate", "threshold"), "0.001"),
    "gate samples as text": _set(_facts(0, "gate", "samples"), "3000"),
    "gate observed as other text": _set(_facts(0, "gate", "observed"), "high"),
    "gate outcome unknown": _set(_facts(0, "gate", "outcome"), "maybe"),
    "gate window as text": _set(_facts(0, "gate", "window"), "1h"),
    "gate contract_traffic count as text": _set(
        _facts(0, "gate", "contract_traffic", "server_errors"), "7"
    ),
    "blind-spot count as text": _set(_facts(2, "gate", "server_5xx"), "2"),
    "contract not an object": _set(_facts(4, "contract"), ["a failure"]),
    "contract failures not a list": _set(_facts(4, "contract", "failures"), {"0": "x"}),
    "contract failure status as text": _set(_facts(4, "contract", "failures", 0, "status"), "500"),
    "contract failure curl missing a type": _set(_facts(4, "contract", "failures", 0, "curl"), 1),
    "facts not an object": _set(_facts(0), ["summary"]),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_a_fact_of_the_wrong_type_is_refused(name: str) -> None:
    doc = copy.deepcopy(real_document())
    validate(doc)  # the same document before the change is fine: the change is what fails
    WRONG[name](doc)
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_explain_still_reads_the_gate_numbers(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The schema describes what explain prints: observed, bound, threshold, samples, window."""
    from phasegate.cli import main
    from phasegate.verdict import write

    gate = check(
        "gate.error-rate",
        Outcome.FAIL,
        kind=Kind.GATE,
        reason="error rate over 0.1%",
        evidence={"facts": {"gate": gate_facts()}},
    )
    saved = write(verdict([gate], phase="phase2"), tmp_path)
    assert main(["explain", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "observed 0.003 bound" in out
    assert "samples 3000; window 1h" in out
