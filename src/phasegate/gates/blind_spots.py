"""Monitoring blind spots per answer class: which of the suite's answers the plan's metrics miss.

`triangulate` asks whether the server's request counter saw the suite's requests and 5xx at
all. This module asks it per answer class the suite tells apart (2xx, 4xx, 429, 5xx and
transport failures) and for every metric the rollout plan relies on:

- `skillmeat_api_requests_total` by status, the server's request counter;
- the plan's own error-rate expression, `rate(skillmeat_api_errors_total[5m])` (Success
  Criteria), whose counter SkillMeat 0.74.0 increments only for unhandled exceptions;
- every alert rule of `alert-rules.yml` and every gate of the catalog that reads SkillMeat's
  API metrics for the whole API (a rule that watches one endpoint is no API-wide monitor).

Which classes an expression reads follows from its label matchers: a selector of the request
counter reads a class when the class's representative status (200, 404, 429, 500) satisfies its
`status` matchers; `skillmeat_api_errors_total` is an error counter, meant to count the 5xx;
the duration histogram has no status label and counts every answer together. A class an
expression reads but whose metric counted fewer than the client saw (beyond `SLACK`) is a blind
spot: the plan's dashboards and alerts cannot see those answers. A class an expression leaves
out on purpose (429 in the error rate) is listed as not read. A class the client did not meet
cannot be judged ("not exercised"). Transport failures (timeouts, refused or reset connections)
are invisible to every server metric by nature; when the client met any, they are reported as
such.

The finding is a warning (check `gate.blind-spots`): it does not say the service is failing, it
says the monitoring the rollout trusts would not notice if it did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from phasegate.gates.spec import GateSpec
from phasegate.outcomes import Conclusion, Outcome

SERVED_CLASSES = ("2xx", "4xx", "429", "5xx")
TRANSPORT = "transport"
CLASSES = (*SERVED_CLASSES, TRANSPORT)
REPRESENTATIVE = {"2xx": "200", "4xx": "404", "429": "429", "5xx": "500"}
SLACK = 2  # a counter increment can land a moment after the client has its answer

REQUESTS_METRIC = "skillmeat_api_requests_total"
ERRORS_METRIC = "skillmeat_api_errors_total"
HISTOGRAM_METRIC = "skillmeat_api_request_duration_seconds"
PLAN_ERROR_RATE = f"rate({ERRORS_METRIC}[5m])"

# What the server's side reads per class: the request counter by status, the plan's error
# counter, the duration histogram's count. The suite's own traffic excludes scrapes and health
# probes; so do these.
_SERVED = 'job="skillmeat",endpoint!~"/metrics.*|/health.*"'
CLASS_QUERIES = {
    "2xx": f'sum({REQUESTS_METRIC}{{{_SERVED},status=~"2.."}}) or vector(0)',
    "4xx": f'sum({REQUESTS_METRIC}{{{_SERVED},status=~"4..",status!="429"}}) or vector(0)',
    "429": f'sum({REQUESTS_METRIC}{{{_SERVED},status="429"}}) or vector(0)',
    "5xx": f'sum({REQUESTS_METRIC}{{{_SERVED},status=~"5.."}}) or vector(0)',
    "errors": f"sum({ERRORS_METRIC}{{{_SERVED}}}) or vector(0)",
    "histogram": f"sum({HISTOGRAM_METRIC}_count{{{_SERVED}}}) or vector(0)",
}

_SELECTOR = re.compile(r"(skillmeat_api_[a-z_]+)\s*(?:\{([^}]*)\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class View:
    """An expression the plan relies on, and which answer classes its metric reads."""

    name: str
    source: str
    expression: str
    metric: str  # "requests", "errors" or "histogram"
    reads: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "expression": self.expression,
            "reads": list(self.reads),
        }


def _matches(op: str, pattern: str, value: str) -> bool:
    if op == "=":
        return value == pattern
    if op == "!=":
        return value != pattern
    hit = re.fullmatch(pattern, value) is not None  # PromQL regexes are fully anchored
    return hit if op == "=~" else not hit


def _selectors(expression: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    return [
        (metric, _MATCHER.findall(labels or "")) for metric, labels in _SELECTOR.findall(expression)
    ]


def view_of(name: str, source: str, expression: str) -> View | None:
    """The view of one expression; None when it reads no API-wide SkillMeat API metric."""
    reads: set[str] = set()
    metric = ""
    for name_of_metric, matchers in _selectors(expression):
        if any(label == "endpoint" and op == "=" for label, op, _ in matchers):
            continue  # watches one endpoint, not the API
        if name_of_metric == REQUESTS_METRIC:
            metric = metric or "requests"
            status = [(op, pattern) for label, op, pattern in matchers if label == "status"]
            for cls, code in REPRESENTATIVE.items():
                if all(_matches(op, pattern, code) for op, pattern in status):
                    reads.add(cls)
        elif name_of_metric == ERRORS_METRIC:
            metric = "errors"
            reads.add("5xx")
        elif name_of_metric.startswith(HISTOGRAM_METRIC):
            metric = metric or "histogram"
            reads.update(SERVED_CLASSES)
    if not metric:
        return None
    ordered = tuple(cls for cls in SERVED_CLASSES if cls in reads)
    return View(name, source, expression.strip(), metric, ordered)


def alert_rules(text: str) -> list[tuple[str, str]]:
    """(alert name, expression) of every rule in a Prometheus rules file (this project's)."""
    rules: list[tuple[str, str]] = []
    name: str | None = None
    expression: list[str] = []
    in_expr = False
    expr_indent = 0
    for line in [*text.splitlines(), "- alert: END"]:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_expr and stripped and indent > expr_indent:
            expression.append(stripped)
            continue
        in_expr = False
        if stripped.startswith("- alert:"):
            if name is not None:
                rules.append((name, " ".join(expression)))
            name, expression = stripped.split(":", 1)[1].strip(), []
        elif stripped.startswith("expr:") and name is not None:
            rest = stripped.split(":", 1)[1].strip()
            if rest in ("|", ">", "|-", ">-"):
                in_expr, expr_indent = True, indent
            else:
                expression.append(rest)
    return rules


def plan_views(rules_text: str, gates: Iterable[GateSpec]) -> list[View]:
    """The server's request counter, the plan's error rate, the alert rules and the gates."""
    views = [
        View(
            REQUESTS_METRIC,
            "the server's request counter (the gates and alerts on requests read it)",
            f"{REQUESTS_METRIC} by status",
            "requests",
            SERVED_CLASSES,
        )
    ]
    plan = view_of(
        "plan error rate", "rollout-plan.md Success Criteria: Error rate < 0.1%", PLAN_ERROR_RATE
    )
    assert plan is not None
    views.append(plan)
    for alert, expression in alert_rules(rules_text):
        view = view_of(f"alert {alert}", "alert-rules.yml", expression)
        if view is not None:
            views.append(view)
    for spec in gates:
        expression = " ".join(
            part for part in (spec.events, spec.total, spec.histogram, spec.query) if part
        )
        if spec.histogram:
            expression = f"{spec.histogram}_bucket{{{spec.matchers}}}"
        view = view_of(f"gate {spec.id}", "gate catalog", expression)
        if view is not None:
            views.append(view)
    return views


def _cell(view: View, cls: str, client: Mapping[str, int], server: Mapping[str, float]) -> str:
    if cls == TRANSPORT:
        return "invisible" if client.get(TRANSPORT, 0) else "none seen"
    if cls not in view.reads:
        return "not read"
    seen = client.get(cls, 0)
    if seen == 0:
        return "not exercised"
    if view.metric == "histogram":
        answered = sum(client.get(c, 0) for c in SERVED_CLASSES)
        counted = server.get("histogram", 0.0)
        return "counted" if counted >= answered - SLACK else "missed"
    counted = server.get("errors" if view.metric == "errors" else cls, 0.0)
    return "counted" if counted >= seen - SLACK else "missed"


def compare(
    client: Mapping[str, int],
    server_before: Mapping[str, float],
    server_after: Mapping[str, float],
    views: list[View],
) -> Conclusion:
    """Per view and class, did the metric count what the client met? Blind spots FAIL (the
    check is a warning); transport failures the client met are reported as invisible."""
    server = {key: server_after.get(key, 0.0) - server_before.get(key, 0.0) for key in server_after}
    table = {
        view.name: {cls: _cell(view, cls, client, server) for cls in CLASSES} for view in views
    }
    client_counts = {cls: int(client.get(cls, 0)) for cls in CLASSES}
    server_counts = {
        **{cls: round(server.get(cls, 0.0)) for cls in SERVED_CLASSES},
        "errors_total": round(server.get("errors", 0.0)),
        "histogram_count": round(server.get("histogram", 0.0)),
    }
    spots: list[str] = []
    for view in views:
        for cls, cell in table[view.name].items():
            if cell != "missed":
                continue
            if view.metric == "histogram":
                spots.append(
                    f"{view.name} counted {server_counts['histogram_count']} answers of the "
                    f"client's {sum(client_counts[c] for c in SERVED_CLASSES)}"
                )
                break
            counted = server_counts["errors_total" if view.metric == "errors" else cls]
            spots.append(
                f"{view.name} counted {counted} {cls} of the client's {client_counts[cls]}"
            )
    if client_counts[TRANSPORT]:
        spots.append(
            f"{client_counts[TRANSPORT]} transport failures (timeouts, refused or reset "
            "connections): invisible to every server metric"
        )
    facts: dict[str, Any] = {
        "client": client_counts,
        "server": server_counts,
        "views": {view.name: {**view.to_dict(), "classes": table[view.name]} for view in views},
        "blind_spots": spots,
    }
    untested = [cls for cls in SERVED_CLASSES if not client_counts[cls]]
    seen = ", ".join(f"{cls} {client_counts[cls]}" for cls in CLASSES)
    note = f"; {', '.join(untested)} not met by the client: not judged" if untested else ""
    if spots:
        return Conclusion(
            Outcome.FAIL,
            "monitoring blind spots the plan's dashboards and alerts cannot see: "
            + "; ".join(spots)
            + f" (client: {seen}{note})",
            facts,
        )
    return Conclusion(
        Outcome.PASS,
        f"every metric the plan relies on counted the classes it reads (client: {seen}{note})",
        facts,
    )
