"""The gates' top-up requests: the rotation of `mix.GATE_TOP_UP`, parameters from the step.

Unlike the locust users, a top-up worker draws nothing at random: step n's operation and its
parameters (limits, confidence thresholds, search words, pack budgets) follow from n, so one
client address can send thousands of requests without any exact request recurring often
enough to trip the burst limiter.
"""

from __future__ import annotations

from dataclasses import replace

from phasegate.traffic.content import TOP_UP_WORDS, TYPES
from phasegate.traffic.mix import TOP_UP_SEED_ITEMS, top_up_operation
from phasegate.traffic.model import JSON, Answer, Params, Project, Request, answer_id, path_id


def project_name(prefix: str, index: int) -> str:
    return f"{prefix}-traffic-{index}"


def seed_items(project: Project, index: int) -> list[Request]:
    """The memories top-up worker `index` seeds its project with: types, statuses, words vary."""
    requests: list[Request] = []
    for n in range(TOP_UP_SEED_ITEMS):
        status = "active" if n % 3 else "candidate"
        word = TOP_UP_WORDS[(index * 7 + n) % len(TOP_UP_WORDS)]
        body: JSON = {
            "type": TYPES[n % 5],
            "content": f"{project.name} {word} note {n}",
            "confidence": round(0.5 + n * 0.05, 2),
            "status": status,
        }

        def book(answer: Answer, status: str = status) -> None:
            item_id = answer_id(answer)
            if item_id is not None:
                project.items[item_id] = status

        params: Params = {"project_id": project.id}
        seed = Request("setup", "seed-item", "POST", "/memory-items", params, body, (201,))
        requests.append(replace(seed, then=book))
    return requests


def request(step: int, project: Project) -> Request:
    """Step `step` of a top-up worker: the rotation's operation, its parameters from the step."""
    pid = project.id
    items = list(project.items)
    item = items[step % len(items)] if items else None
    operation = top_up_operation(step, item is not None)
    if operation == "list-items":
        params: Params = {"project_id": pid, "limit": 1 + step % 100}
        return Request("memory.read", "list", "GET", "/memory-items", params=params)
    if operation == "count-items":
        params = {"project_id": pid, "min_confidence": round((step % 100) / 100, 2)}
        return Request("memory.read", "count", "GET", "/memory-items/count", params=params)
    if operation == "search-items":
        word = TOP_UP_WORDS[step % len(TOP_UP_WORDS)]
        params = {"query": word, "project_id": pid, "limit": 1 + step % 50}
        return Request("memory.read", "search", "GET", "/memory-items/search", params=params)
    if operation == "pack-preview":
        return Request(
            "packs", "preview", "POST", "/context-packs/preview",
            params={"project_id": pid}, body={"budget_tokens": 500 + step % 3000},
        )  # fmt: skip
    assert item is not None  # the rotation only offers item operations when items exist
    if operation == "get-item":
        return Request("memory.read", "get", "GET", f"/memory-items/{path_id(item)}")
    if operation == "update-item":
        body = {"confidence": round(0.5 + (step % 50) / 100, 2)}
        return Request("memory.write", "update", "PUT", f"/memory-items/{path_id(item)}", body=body)
    raise ValueError(f"the top-up has no request for {operation!r}")
