"""Create, read, delete, read again: a resource must exist after its create and be gone after
its delete.

SkillMeat's OpenAPI declares no links, so schemathesis's own stateful phase has nothing to
follow; these sequences spell the same expectation out with cases schemathesis generates for
the create operation, and judge every response with the same checks the fuzzing uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from phasegate.contract.fuzz import (
    POSITIVE_CHECKS,
    Case,
    FuzzReport,
    Pins,
    Sender,
    case_failure,
    failures_of,
    run_examples,
)
from phasegate.outcomes import Conclusion, Outcome

# Fields that legitimately change between the create answer and a later read.
VOLATILE_FIELDS = frozenset({"access_count", "updated_at", "last_accessed_at", "memory_count"})


@dataclass(frozen=True, repr=False)
class Resource:
    """One REST resource of the family: where it is created and where one instance lives."""

    name: str
    create: str  # path below the API prefix, POST
    instance: str  # path below the API prefix with one `{param}`, GET and DELETE
    param: str

    def __repr__(self) -> str:  # what pytest and Allure show as the parameter
        return self.name


RESOURCES: tuple[Resource, ...] = (
    Resource("memory-items", "/memory-items", "/memory-items/{item_id}", "item_id"),
    Resource("context-modules", "/context-modules", "/context-modules/{module_id}", "module_id"),
)


@dataclass
class CrudReport(FuzzReport):
    sequences: int = 0
    completed: int = 0
    not_created: Mapping[int, int] = field(default_factory=dict)

    def summary(self, finding: str | None = None) -> str:
        base = super().summary(finding)
        return f"{base}; {self.completed} of {self.sequences} sequences reached delete"

    def to_dict(self, finding: str | None = None) -> dict[str, Any]:
        data = super().to_dict(finding)
        data.update(sequences=self.sequences, completed=self.completed)
        return data

    def conclusion(self, finding: str | None = None) -> Conclusion:
        """The cases' conclusion, then: too few sequences reached delete to judge."""
        judged = super().conclusion(finding)
        if judged.outcome is not Outcome.PASS or self.completed >= min(3, self.sequences):
            return judged
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"only {self.completed} of {self.sequences} generated creates were accepted "
            f"(statuses {dict(self.not_created)}); too few sequences to judge",
            judged.facts,
        )


@dataclass
class _Steps:
    """One sequence's calls: each is sent, counted and judged into the shared report."""

    report: CrudReport
    sender: Sender

    def send(self, case: Case) -> Any:
        response = self.sender.send(case)
        self.report.statuses[response.status_code] += 1
        return response

    def validate(self, case: Case, response: Any, step: str) -> None:
        try:
            case.validate_response(response, checks=list(POSITIVE_CHECKS))
        except (Exception, FailureGroup) as exc:  # FailureGroup is a BaseExceptionGroup
            for failure in failures_of(exc):
                self._add(failure, case, response, step, check="", expected="")

    def expect(
        self, case: Case, response: Any, *, ok: bool, check: str, step: str, expected: str
    ) -> bool:
        if not ok:
            self._add(None, case, response, step, check=check, expected=expected)
        return ok

    def _add(
        self, failure: Any, case: Case, response: Any, step: str, *, check: str, expected: str
    ) -> None:
        self.report.add_failure(
            case_failure(
                failure,
                check=check,
                title=f"{step}: expected {expected}",
                message=f"{case.method} {case.formatted_path} answered "
                f"{response.status_code}, expected {expected}",
                mode=step,
                case=case,
                response=response,
                sender=self.sender,
            )
        )


def _changed_fields(created: Mapping[str, Any], read: Mapping[str, Any]) -> list[str]:
    return sorted(
        key
        for key, value in created.items()
        if key not in VOLATILE_FIELDS and key in read and read[key] != value
    )


def crud_sequences(
    schema: Any,
    resource: Resource,
    api_prefix: str,
    pins: Pins,
    sender: Sender,
    *,
    count: int,
    seed: int,
    on_created: Callable[[str], None],
    on_deleted: Callable[[str], None],
) -> CrudReport:
    """`count` generated creates, each followed by read, delete, read; every step judged."""
    create_op = schema[f"{api_prefix}{resource.create}"]["POST"]
    read_op = schema[f"{api_prefix}{resource.instance}"]["GET"]
    delete_op = schema[f"{api_prefix}{resource.instance}"]["DELETE"]
    report = CrudReport(operation=f"CRUD {resource.name}", profile="full")
    steps = _Steps(report, sender)
    not_created: dict[int, int] = {}
    query = {"project_id": pins.project_id} if pins.project_id else None
    available = "ensure_resource_availability"

    def sequence(create: Case) -> None:
        report.sequences += 1
        report.examples["create"] += 1
        created = steps.send(create)
        steps.validate(create, created, "create")
        if created.status_code != 201:
            # A valid body the server refuses (a duplicate, say) is judged by the fuzzing of
            # the create operation; here it only means this sequence cannot go on.
            not_created[created.status_code] = not_created.get(created.status_code, 0) + 1
            return
        body = created.json()
        resource_id = str(body.get("id", ""))
        if not steps.expect(
            create,
            created,
            ok=bool(resource_id),
            check=available,
            step="create",
            expected="an id in the 201 body",
        ):
            return
        on_created(resource_id)
        params = {resource.param: resource_id}
        read = read_op.Case(path_parameters=params)
        fetched = steps.send(read)
        if steps.expect(
            read,
            fetched,
            ok=fetched.status_code == 200,
            check=available,
            step="read after create",
            expected="200",
        ):
            steps.validate(read, fetched, "read after create")
            changed = _changed_fields(body, fetched.json())
            steps.expect(
                read,
                fetched,
                ok=not changed,
                check=available,
                step="read after create",
                expected=f"the created fields unchanged (changed: {', '.join(changed)})",
            )
        delete = delete_op.Case(path_parameters=params)
        deleted = steps.send(delete)
        if not steps.expect(
            delete,
            deleted,
            ok=deleted.status_code == 204,
            check=available,
            step="delete",
            expected="204",
        ):
            return
        steps.validate(delete, deleted, "delete")
        on_deleted(resource_id)
        report.completed += 1
        gone = read_op.Case(path_parameters=params)
        after = steps.send(gone)
        if steps.expect(
            gone,
            after,
            ok=after.status_code == 404,
            check="use_after_free",
            step="read after delete",
            expected="404",
        ):
            steps.validate(gone, after, "read after delete")

    strategy = create_op.as_strategy(generation_mode=GenerationMode.POSITIVE, query=query)
    run_examples(strategy, count, seed, sequence)
    report.not_created = not_created
    return report
