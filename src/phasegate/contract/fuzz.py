"""Fuzz one operation against the target's own OpenAPI with schemathesis, and keep the evidence.

Hypothesis drives generation with a fixed seed and a bounded number of examples; every case is
sent, judged by schemathesis's checks and recorded. A failing case never raises out of the
Hypothesis loop (no shrinking): a gate run wants every distinct failure with a reproduction, in
bounded time, more than it wants the smallest one.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import checks as core_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from phasegate.contract.operations import OperationSpec
from phasegate.contract.profiles import ContractProfile
from phasegate.evidence import Exchange, Redactor, trim
from phasegate.outcomes import Conclusion, Outcome
from phasegate.ratelimit import FORWARDED_FOR, RateLimitPolicy, client_address, is_limited

CheckFunction = Callable[..., Any]
Case = schemathesis.Case[Any]
Operation = Any  # schemathesis.APIOperation: four type parameters this module never uses

# What each mode of generation must satisfy: the rollout's reading of "honours its contract".
POSITIVE_CHECKS: tuple[CheckFunction, ...] = (
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
)
NEGATIVE_CHECKS: tuple[CheckFunction, ...] = (
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
)
# schemathesis failure classes -> the check that raised them (names as schemathesis spells them).
_CHECK_OF_FAILURE = {
    "ServerError": "not_a_server_error",
    "UndefinedStatusCode": "status_code_conformance",
    "UndefinedContentType": "content_type_conformance",
    "MalformedMediaType": "content_type_conformance",
    "MissingContentType": "content_type_conformance",
    "JsonSchemaError": "response_schema_conformance",
    "AcceptedNegativeData": "negative_data_rejection",
}
MAX_FAILURES_KEPT = 10  # per finding class
# The finding classes a contract report is split into, each judged by its own check and so by
# its own severity rule (phasegate.severity): an undocumented 4xx is a refusal the contract does
# not name (rule undocumented-4xx, check contract.undocumented-status.<operation>); everything
# else (a 5xx, a body or content type against its schema, invalid input accepted, an
# undocumented 2xx) is contract.<operation>'s (rule contract-break).
CONTRACT_FINDINGS = "contract"
UNDOCUMENTED_STATUS = "undocumented-status"
FINDINGS = (CONTRACT_FINDINGS, UNDOCUMENTED_STATUS)
# Fewer judged cases than this share of those planned and the operation was not really tested.
MIN_JUDGED_SHARE = 0.5


@dataclass(frozen=True)
class Pins:
    """Real values a case may use, so fuzzing reaches past "unknown project" and "not found".

    `server_dir` replaces every body field that names a directory on the target host: fuzzing
    must never choose where the server writes files.
    """

    project_id: str | None = None
    item_ids: tuple[str, ...] = ()
    module_ids: tuple[str, ...] = ()
    server_dir: str | None = None


@dataclass(frozen=True)
class CaseFailure:
    check: str
    title: str
    message: str
    mode: str
    method: str
    path: str
    query: dict[str, Any]
    body: Any
    status: int | None
    response_body: str
    curl: str

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.check, self.status)

    @property
    def finding(self) -> str:
        """Which finding class (and so which check) this failure belongs to.

        A refusal (4xx) with a status the operation does not document is undocumented-status,
        whatever the generation mode: a generated value the schema allows but the server refuses
        (a cursor it never issued) is input the schema cannot describe as invalid.
        """
        undocumented = self.check == "status_code_conformance"
        if undocumented and self.status is not None and 400 <= self.status < 500:
            return UNDOCUMENTED_STATUS
        return CONTRACT_FINDINGS

    def line(self) -> str:
        return (
            f"{self.check} ({self.mode}): {self.method} {self.path} -> {self.status}: {self.title}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "title": self.title,
            "message": trim(self.message, 600),
            "mode": self.mode,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "status": self.status,
            "response_body": self.response_body,
            "curl": self.curl,
        }


@dataclass
class FuzzReport:
    operation: str
    profile: str
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    failures: list[CaseFailure] = field(default_factory=list)
    failure_count: int = 0
    failure_counts: Counter[str] = field(default_factory=Counter)  # per finding class
    # Modes the schema gives nothing to generate from (an operation with no constraint to break).
    ungenerated: list[str] = field(default_factory=list)

    def add_failure(self, failure: CaseFailure) -> None:
        self.failure_count += 1
        self.failure_counts[failure.finding] += 1
        kept = self.failures_of(failure.finding)
        if len(kept) < MAX_FAILURES_KEPT and failure.key not in {f.key for f in kept}:
            self.failures.append(failure)

    def failures_of(self, finding: str | None) -> list[CaseFailure]:
        return [f for f in self.failures if finding is None or f.finding == finding]

    def count_of(self, finding: str | None) -> int:
        return self.failure_count if finding is None else self.failure_counts[finding]

    @property
    def judged(self) -> int:
        return sum(self.examples.values()) - self.rate_limited

    def summary(self, finding: str | None = None) -> str:
        codes = ", ".join(f"{code}x{n}" for code, n in sorted(self.statuses.items()))
        modes = " + ".join(f"{n} {mode}" for mode, n in sorted(self.examples.items()))
        count = self.count_of(finding)
        outcome = (
            f"{count} failing cases ({len(self.failures_of(finding))} distinct)"
            if count
            else "no check failed"
        )
        if finding is not None:
            outcome += f" ({finding})"
        limited = f", {self.rate_limited} rate-limited" if self.rate_limited else ""
        none = f" (no {' or '.join(self.ungenerated)} case exists)" if self.ungenerated else ""
        return (
            f"{self.operation}: {modes or 'no'} examples{none}, statuses {codes or '-'}"
            f"{limited}; {outcome}"
        )

    def conclusion(self, finding: str | None = None) -> Conclusion:
        """FAIL on any failing case (of `finding`'s class, when given); INCONCLUSIVE when too few
        cases could be judged."""
        facts = {
            "contract": self.to_dict(finding),
            "profile": self.profile,
            "summary": self.summary(finding),
        }
        failures = self.failures_of(finding)
        if failures:
            shown = "; ".join(f.line() for f in failures)
            return Conclusion(
                Outcome.FAIL, f"{self.count_of(finding)} failing cases: {shown}", facts
            )
        planned = sum(self.examples.values())
        if planned == 0 or self.judged < MIN_JUDGED_SHARE * planned:
            return Conclusion(
                Outcome.INCONCLUSIVE,
                f"only {self.judged} of {planned} cases could be judged "
                f"({self.rate_limited} rate-limited)",
                facts,
            )
        return Conclusion(Outcome.PASS, self.summary(), facts)

    def to_dict(self, finding: str | None = None) -> dict[str, Any]:
        data = {
            "operation": self.operation,
            "profile": self.profile,
            "examples": dict(self.examples),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "rate_limited": self.rate_limited,
            "failure_count": self.count_of(finding),
            "failures": [f.to_dict() for f in self.failures_of(finding)],
            "ungenerated": list(self.ungenerated),
        }
        if finding is not None:
            data["finding"] = finding
            data["other_findings"] = {
                name: n for name, n in self.failure_counts.items() if name != finding and n
            }
        return data


class Sender:
    """Sends cases to the one target: paced, 429-aware, recorded, credentials redacted."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        redactor: Redactor,
        timeout_s: float,
        recorder: Callable[[Exchange], None] | None = None,
        max_requests_per_s: float | None = None,
        client_network: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.redactor = redactor
        self.timeout_s = timeout_s
        self.recorder = recorder
        self.min_interval_s = 1.0 / max_requests_per_s if max_requests_per_s else 0.0
        self.sleep = sleep
        self.rate_limit = RateLimitPolicy(sleep=sleep)
        # SkillMeat's burst limiter counts identical method+path+query per client: a POST whose
        # query is the pinned project looks identical whatever its body. Cases therefore come
        # from many client addresses of one private /24, as traffic behind a proxy does.
        self.client_network = client_network
        self.session = requests.Session()
        self.sent = 0
        self.server_errors = 0  # 5xx answers, for the metric gates' reader (contract/tally.py)
        self._last = 0.0

    def close(self) -> None:
        self.session.close()

    def send(self, case: Case, extra_headers: Mapping[str, str] | None = None) -> Any:
        """One call; a 429 is retried as ratelimit.py says, then returned as it is."""
        return self.rate_limit.send(lambda: self._send_once(case, extra_headers))

    def _send_once(self, case: Case, extra_headers: Mapping[str, str] | None) -> Any:
        if self.min_interval_s:
            wait = self._last + self.min_interval_s - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        headers = {**self.headers, **(extra_headers or {})}
        if self.client_network:
            headers[FORWARDED_FOR] = client_address(self.client_network, self.sent)
        started = time.perf_counter()
        self._last = time.monotonic()
        self.sent += 1
        try:
            response = case.call(
                base_url=self.base_url,
                session=self.session,
                headers=headers,
                timeout=self.timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self._record(case, None, started, error=repr(exc))
            raise
        self._record(case, response, started)
        if response.status_code >= 500:
            self.server_errors += 1
        return response

    def _record(self, case: Case, response: Any, started: float, error: str = "") -> None:
        if self.recorder is None:
            return
        body = _body_of(case)
        self.recorder(
            Exchange(
                method=case.method,
                url=self.base_url + case.formatted_path,
                path=self.redactor.text(_path_with_query(case)),
                status=getattr(response, "status_code", None),
                duration_ms=(time.perf_counter() - started) * 1000,
                request_body=None if body is None else trim(self.redactor.text(_json(body))),
                response_body=(
                    None if response is None else trim(self.redactor.text(_text(response)))
                ),
                error=error or None,
            )
        )

    def curl(self, case: Case) -> str:
        shown = {k: v for k, v in self.headers.items() if k.lower() not in {"user-agent"}}
        return self.redactor.text(case.as_curl_command(headers=shown, base_url=self.base_url))


def _text(response: Any) -> str:
    try:
        return str(response.text)
    except Exception:  # a body that is not text is still evidence of something
        return f"<{len(response.content)} bytes>"


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _is_set(value: Any) -> bool:
    return type(value).__name__ != "NotSet"


def _body_of(case: Case) -> Any:
    return case.body if _is_set(case.body) else None


def _query_of(case: Case) -> dict[str, Any]:
    return dict(case.query) if isinstance(case.query, Mapping) else {}


def _path_with_query(case: Case) -> str:
    query = _query_of(case)
    return f"{case.formatted_path}?{urlencode(query, doseq=True)}" if query else case.formatted_path


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(_json(value))
    except ValueError:
        return repr(value)


def failures_of(exc: BaseException) -> list[Failure]:
    if isinstance(exc, FailureGroup):
        return [f for f in exc.exceptions if isinstance(f, Failure)]
    if isinstance(exc, Failure):
        return [exc]
    return []


def check_name(failure: Failure) -> str:
    return _CHECK_OF_FAILURE.get(type(failure).__name__, type(failure).__name__)


def case_failure(
    failure: Failure | None,
    *,
    check: str,
    title: str,
    message: str,
    mode: str,
    case: Case,
    response: Any,
    sender: Sender,
) -> CaseFailure:
    return CaseFailure(
        check=check_name(failure) if failure is not None else check,
        title=(failure.title if failure is not None else title) or check,
        message=sender.redactor.text(failure.message if failure is not None else message),
        mode=mode,
        method=case.method,
        path=case.formatted_path,
        query=sender.redactor.data(_jsonable(_query_of(case))),
        body=sender.redactor.data(_jsonable(_body_of(case))),
        status=getattr(response, "status_code", None),
        response_body=trim(sender.redactor.text(_text(response)), 500)
        if response is not None
        else "",
        curl=sender.curl(case),
    )


def run_examples(
    strategy: st.SearchStrategy[Any], count: int, seed: int, body: Callable[[Any], None]
) -> None:
    """Feed `count` examples to `body`, reproducibly; `body` must not raise on a finding."""
    if count <= 0:
        return

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(strategy)
    def _run(value: Any) -> None:
        body(value)

    _run()


# -- pinning real values into generated cases -----------------------------------------------------

_ITEM_PARAMS = ("item_id", "memory_id")
_ID_FIELDS = ("source_id", "target_id")


def _declares_query(operation: Operation, name: str) -> bool:
    return any(p.name == name and p.location == "query" for p in operation.iter_parameters())


def _path_params(operation: Operation) -> list[str]:
    return [p.name for p in operation.iter_parameters() if p.location == "path"]


def _path_pin_sets(names: Sequence[str], pins: Pins) -> list[dict[str, str]]:
    """Combinations of real ids for the path parameters (every one must have a value)."""
    choices: list[list[tuple[str, str]]] = []
    for name in names:
        ids = pins.item_ids if name in _ITEM_PARAMS else pins.module_ids
        if not ids:
            return []
        choices.append([(name, value) for value in ids])
    combos: list[dict[str, str]] = [{}]
    for options in choices:
        combos = [{**combo, key: value} for combo in combos for key, value in options]
    return combos


def case_strategy(
    operation: Operation,
    spec: OperationSpec,
    mode: GenerationMode,
    pins: Pins,
) -> st.SearchStrategy[Case]:
    """Generated cases of one mode, with the project, real ids and the server folder pinned.

    Real ids replace generated ones only for valid cases: turning an invalid value into a valid
    one would make `negative_data_rejection` blame the server for our own substitution.
    """
    query = (
        {"project_id": pins.project_id}
        if pins.project_id and _declares_query(operation, "project_id")
        else None
    )
    base = operation.as_strategy(generation_mode=mode, query=query)
    strategies = [base]
    if mode is GenerationMode.POSITIVE:
        strategies += [
            operation.as_strategy(generation_mode=mode, query=query, path_parameters=combo)
            for combo in _path_pin_sets(_path_params(operation), pins)
        ]
    combined = st.one_of(*strategies) if len(strategies) > 1 else base

    def pin(drawn: tuple[Case, bool, int]) -> Case:
        case, use_real, index = drawn
        if isinstance(case.body, dict):
            for name in spec.server_dirs:
                # Always: a generated folder name would make the server write where it chose.
                if pins.server_dir is None:
                    case.body.pop(name, None)
                elif isinstance(case.body.get(name), str) and (
                    case.body[name] or mode is GenerationMode.POSITIVE
                ):
                    # An invalid case keeps an empty name invalid: `server_dir_is_safe` drops it.
                    case.body[name] = pins.server_dir
            if mode is GenerationMode.POSITIVE and use_real and pins.item_ids:
                for name in _ID_FIELDS:
                    if isinstance(case.body.get(name), str):
                        case.body[name] = pins.item_ids[index % len(pins.item_ids)]
                if isinstance(case.body.get("item_ids"), list):
                    case.body["item_ids"] = list(pins.item_ids[: 1 + index % len(pins.item_ids)])
                if isinstance(case.body.get("memory_id"), str):
                    case.body["memory_id"] = pins.item_ids[index % len(pins.item_ids)]
                if pins.module_ids and isinstance(case.body.get("module_id"), str):
                    case.body["module_id"] = pins.module_ids[0]
        return case

    return st.tuples(combined, st.booleans(), st.integers(0, 7)).map(pin)


def server_dir_is_safe(case: Case, spec: OperationSpec, pins: Pins) -> bool:
    """A case that still names a folder we did not choose is never sent.

    Any other value counts as naming one: an empty string is the server's working directory to
    many servers, and a lenient one may coerce a number or a list into a path.
    """
    if not spec.server_dirs or not isinstance(case.body, dict):
        return True
    return all(
        name not in case.body or case.body[name] == pins.server_dir for name in spec.server_dirs
    )


# -- one operation --------------------------------------------------------------------------------


def fuzz_operation(
    operation: Operation,
    spec: OperationSpec,
    profile: ContractProfile,
    pins: Pins,
    sender: Sender,
    *,
    on_response: Callable[[Case, Any], None] | None = None,
) -> FuzzReport:
    """Valid examples (and invalid ones, when the profile allows) through the checks."""
    report = FuzzReport(operation=spec.label, profile=profile.name)
    if profile.read_only and not spec.read_only:
        raise ValueError(f"profile {profile.name} sends read-only methods only, not {spec.label}")
    plan = [
        (GenerationMode.POSITIVE, profile.positive_examples, POSITIVE_CHECKS),
        (GenerationMode.NEGATIVE, profile.negative_examples, NEGATIVE_CHECKS),
    ]
    for offset, (mode, count, checks) in enumerate(plan):

        def one(case: Case, mode: GenerationMode = mode, checks: Any = checks) -> None:
            if not server_dir_is_safe(case, spec, pins):
                return
            report.examples[mode.value] += 1
            response = sender.send(case)
            report.statuses[response.status_code] += 1
            if on_response is not None:
                on_response(case, response)
            if is_limited(response.status_code):
                report.rate_limited += 1
                return
            try:
                case.validate_response(response, checks=list(checks))
            except (Exception, FailureGroup) as exc:  # FailureGroup is a BaseExceptionGroup
                found = failures_of(exc)
                if not found:
                    report.add_failure(
                        case_failure(
                            None,
                            check="schemathesis",
                            title=type(exc).__name__,
                            message=str(exc),
                            mode=mode.value,
                            case=case,
                            response=response,
                            sender=sender,
                        )
                    )
                for failure in found:
                    report.add_failure(
                        case_failure(
                            failure,
                            check="",
                            title="",
                            message="",
                            mode=mode.value,
                            case=case,
                            response=response,
                            sender=sender,
                        )
                    )

        try:
            run_examples(
                case_strategy(operation, spec, mode, pins), count, profile.seed + offset, one
            )
        except hypothesis.errors.Unsatisfiable:
            # Nothing in the operation can be made invalid (say, one unconstrained string in
            # the path): there is no invalid input to refuse. Valid cases must always exist.
            if mode is not GenerationMode.NEGATIVE or report.examples[mode.value]:
                raise
            report.ungenerated.append(mode.value)
    return report
