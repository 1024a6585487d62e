"""evidence: what a check recorded, with credentials removed before anything is stored."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.evidence import (
    BODY_LIMIT,
    KEEP_EXCHANGES,
    REDACTED,
    Evidence,
    Exchange,
    Redactor,
    trim,
)


def exchange(n: int, **fields: object) -> Exchange:
    base: dict[str, object] = {
        "method": "GET",
        "url": "http://127.0.0.1:9",
        "path": f"/p/{n}",
        "status": 200,
        "duration_ms": 1.26,
    }
    base.update(fields)
    return Exchange(**base)  # type: ignore[arg-type]


def test_redactor_removes_every_secret_from_text() -> None:
    redactor = Redactor(("key-123", "tok-456"))
    body = '{"echo": "key-123", "auth": "Bearer tok-456", "again": "key-123"}'
    cleaned = redactor.text(body)
    assert "key-123" not in cleaned
    assert "tok-456" not in cleaned
    assert cleaned.count(REDACTED) == 3


def test_redactor_removes_secrets_from_paths() -> None:
    cleaned = Redactor(("key-123",)).text("/api/v1/x?api_key=key-123&limit=5")
    assert cleaned == f"/api/v1/x?api_key={REDACTED}&limit=5"


def test_redactor_hides_sensitive_headers_by_name_and_secrets_in_any_header() -> None:
    redactor = Redactor(("key-123",))
    shown = redactor.headers(
        [
            ("X-API-Key", "anything"),
            ("authorization", "Bearer whatever"),
            ("Cookie", "session=1"),
            ("Set-Cookie", "session=2"),
            ("Proxy-Authorization", "Basic x"),
            ("X-Debug-Echo", "your key was key-123"),
            ("Content-Type", "application/json"),
        ]
    )
    assert shown["X-API-Key"] == REDACTED
    assert shown["authorization"] == REDACTED
    assert shown["Cookie"] == REDACTED
    assert shown["Set-Cookie"] == REDACTED
    assert shown["Proxy-Authorization"] == REDACTED
    assert shown["X-Debug-Echo"] == f"your key was {REDACTED}"
    assert shown["Content-Type"] == "application/json"


def test_redactor_without_secrets_changes_nothing() -> None:
    text = "nothing to hide, not even an empty string"
    assert Redactor(()).text(text) == text
    assert Redactor(("",)).text(text) == text


@settings(database=None)  # leave no .hypothesis folder in the checkout
@given(
    secret=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=4, max_size=40).filter(
        lambda s: s not in REDACTED
    ),
    before=st.text(max_size=50),
    after=st.text(max_size=50),
    copies=st.integers(1, 3),
)
def test_a_secret_never_survives_redaction(
    secret: str, before: str, after: str, copies: int
) -> None:
    text = before + (secret + after) * copies
    assert secret not in Redactor((secret,)).text(text)


def test_trim_keeps_short_text_and_says_how_much_was_cut() -> None:
    assert trim("short") == "short"
    long = "x" * (BODY_LIMIT + 25)
    trimmed = trim(long)
    assert trimmed.startswith("x" * BODY_LIMIT)
    assert trimmed.endswith("... [25 more characters]")


def test_evidence_keeps_the_last_exchanges_and_counts_all() -> None:
    evidence = Evidence()
    total = KEEP_EXCHANGES + 5
    for n in range(total):
        evidence.record(exchange(n))
    data = evidence.to_dict()
    assert data["exchanges_total"] == total
    assert len(data["exchanges"]) == KEEP_EXCHANGES
    assert [e["path"] for e in data["exchanges"]] == [
        f"/p/{n}" for n in range(total - KEEP_EXCHANGES, total)
    ]


def test_evidence_facts_are_json_or_their_repr() -> None:
    evidence = Evidence()
    evidence.note("count", 3)
    evidence.note("ids", ["a", "b"])
    evidence.note("odd", {1, 2})
    data = evidence.to_dict()
    assert data["facts"]["count"] == 3
    assert data["facts"]["ids"] == ["a", "b"]
    assert data["facts"]["odd"] == repr({1, 2})


def test_exchange_dict_leaves_out_what_was_not_there() -> None:
    plain = exchange(1).to_dict()
    assert plain == {"method": "GET", "path": "/p/1", "status": 200, "duration_ms": 1.3}
    failed = exchange(2, status=None, error="ConnectError()", request_body="{}").to_dict()
    assert failed["status"] is None
    assert failed["error"] == "ConnectError()"
    assert failed["request_body"] == "{}"
    assert "response_body" not in failed
    # The base URL is never part of the stored record.
    assert "url" not in plain


def test_headline_is_the_last_exchange() -> None:
    evidence = Evidence()
    assert evidence.headline() == ""
    evidence.record(exchange(1))
    evidence.record(exchange(2, status=None, error="timeout", duration_ms=12.0))
    assert evidence.headline() == "GET /p/2 -> timeout (12 ms)"


def test_redactor_cleans_nested_data_and_keeps_its_shape() -> None:
    redactor = Redactor(("key-123",))
    facts = {
        "echoed": {"X-API-Key": "key-123", "count": 2},
        "lines": ["ok", "bad key-123"],
        "pair": ("key-123", None),
        "key-123": True,
    }
    cleaned = redactor.data(facts)
    assert cleaned == {
        "echoed": {"X-API-Key": REDACTED, "count": 2},
        "lines": ["ok", f"bad {REDACTED}"],
        "pair": (REDACTED, None),
        REDACTED: True,
    }
    assert facts["echoed"] == {"X-API-Key": "key-123", "count": 2}, "the input is not changed"
