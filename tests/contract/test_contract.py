"""Contract fuzzing: every Memory & Context operation against the target's own OpenAPI.

Schemathesis generates cases from the schema the target publishes (seeded, bounded), phasegate
sends them and judges each answer: no server error, a documented status code and content type,
a body that matches the documented schema, and invalid input refused. Create-read-delete
sequences check that a resource exists after its create and is gone after its delete. The
profile decides how hard: full (phase 2, before real traffic) or safe (phases 3 and 4:
read-only, rate-limited, few examples); it is shown in the report header and in the verdict.
"""

from __future__ import annotations

import pytest
from contract_params import operation_params, resource_params, status_params

from phasegate.contract import crud_sequences, fuzz_operation, uncatalogued
from phasegate.contract.fuzz import FINDINGS, UNDOCUMENTED_STATUS
from phasegate.outcomes import Conclusion, Inconclusive, Outcome, conclude
from phasegate.resources import Resource, compute_once

API_PREFIX = "/api/{version}"


def _prefix(target) -> str:
    return API_PREFIX.format(version=target.api_version)


def _operation(contract_schema, path: str, method: str):
    try:
        return contract_schema.schema[path][method]
    except (KeyError, LookupError) as exc:
        raise AssertionError(
            f"the target's OpenAPI ({contract_schema.source}) does not declare {method} {path}: "
            f"{exc}"
        ) from None


def _fuzzed(request, operation, target, ledger_dir) -> dict:
    """The operation's fuzzing, done once per run for its two checks: each finding class's
    conclusion as JSON. The first of the two checks to get here fuzzes (and records the
    exchanges); the other reads its conclusion."""

    def fuzz() -> dict:
        try:
            schema = request.getfixturevalue("contract_schema")
            path = operation.full_path(_prefix(target))
            report = fuzz_operation(
                _operation(schema, path, operation.method),
                operation,
                request.getfixturevalue("contract_profile"),
                request.getfixturevalue("contract_pins"),
                request.getfixturevalue("contract_sender"),
            )
        except Inconclusive as exc:
            # Both checks of the operation are undecided, for the same reason: the other one
            # must not fuzz again and decide on a second try what this one could not.
            undecided = {"outcome": Outcome.INCONCLUSIVE.value, "reason": str(exc), "facts": {}}
            return dict.fromkeys(FINDINGS, undecided)
        return {
            finding: {"outcome": c.outcome.value, "reason": c.reason, "facts": dict(c.facts)}
            for finding in FINDINGS
            for c in [report.conclusion(finding)]
        }

    return compute_once(ledger_dir, f"contract-{target.run_id}-{operation.param_id}", fuzz)


def _conclusion(stored: dict) -> Conclusion:
    return Conclusion(Outcome(stored["outcome"]), stored["reason"], stored["facts"])


@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
@pytest.mark.parametrize("operation", list(operation_params()))
def test_operation_contract(request, operation, evidence, target, ledger_dir):
    """An operation honours the target's own OpenAPI contract.

    Blocking (rule: contract-break): clients, agents and the plan's own scripts are written
    against the published contract; a server error, a body or content type that breaks its
    schema, invalid input accepted or an undocumented success is a defect a rollout would ship
    to every caller. (A refusal with an undocumented 4xx is judged apart, by
    contract.undocumented-status.<operation>.)
    """
    conclude(_conclusion(_fuzzed(request, operation, target, ledger_dir)["contract"]), evidence)


@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
@pytest.mark.parametrize("operation", list(status_params()))
def test_operation_refusal_statuses(request, operation, evidence, target, ledger_dir):
    """An operation refuses input only with the 4xx statuses its contract documents.

    Warning (rule: undocumented-4xx): a 400 where the contract documents 422 still refuses the
    input, loudly; clients that branch on the documented status misread it. The same fuzzing as
    contract.<operation> (run once for both), its undocumented-4xx cases only.
    """
    stored = _fuzzed(request, operation, target, ledger_dir)[UNDOCUMENTED_STATUS]
    conclude(_conclusion(stored), evidence)


@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
@pytest.mark.parametrize("resource", list(resource_params()))
def test_resource_lifecycle(
    resource,
    contract_schema,
    contract_pins,
    contract_sender,
    contract_profile,
    cleanup,
    evidence,
    target,
):
    """A resource exists after its create and is gone after its delete.

    Blocking: a create that answers 201 for something no read can find, or a delete that leaves
    the resource readable, loses or resurrects users' memories.
    """
    registered: dict[str, Resource] = {}
    kind = "item" if resource.name == "memory-items" else "module"

    def created(resource_id: str) -> None:
        registered[resource_id] = cleanup.add(
            Resource(kind, resource_id, "contract crud", contract_pins.project_id)
        )

    def deleted(resource_id: str) -> None:
        cleanup.forget(registered.pop(resource_id))

    report = crud_sequences(
        contract_schema.schema,
        resource,
        _prefix(target),
        contract_pins,
        contract_sender,
        count=contract_profile.crud_sequences,
        seed=contract_profile.seed,
        on_created=created,
        on_deleted=deleted,
    )
    conclude(report.conclusion(), evidence)


@pytest.mark.check("contract.catalog", kind="contract")
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_every_family_operation_is_fuzzed(contract_schema, evidence, target):
    """Every Memory & Context operation the target declares is one this suite fuzzes.

    Warning (rule: suite-coverage): an operation added to the target after this suite was written is
    not fuzzed; the rollout can go on, but someone should add it to the catalog.
    """
    missing = uncatalogued(contract_schema.raw, _prefix(target))
    evidence.note("schema", {"source": contract_schema.source, "version": contract_schema.version})
    evidence.note("uncatalogued", missing)
    assert not missing, f"{len(missing)} operations are not fuzzed: {', '.join(missing)}"
    evidence.note("summary", "every declared operation is fuzzed")
