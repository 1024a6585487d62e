"""Authentication: is every Memory & Context operation refused without valid credentials?

Severity: a request served without valid credentials is a disclosure to whoever can reach the
port (rule `cross-project`, blocking); a 5xx on such a request is rule `server-error` (blocking).
401 and 403 are both a refusal. Any other answer (a 404 or a 400 from the handler) is not a
refusal either: the request went past authentication to the operation itself.

The probe never writes, even on a target that authenticates nothing: every request names a
project that does not exist (under the run's id) and ids no item or module has, with bodies that
are otherwise valid so a refusing server cannot hide behind a 422. An export (the one operation
that touches the server's disk before it looks at the project) names a folder the caller owns.

On the embedded default the same probe runs against extra SkillMeat servers started with each
of their own authentication settings (`MODES`), one at a time, each with a fresh private HOME,
stopped (and its HOME removed) as soon as its probe is done.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.contract.operations import OPERATIONS, OperationSpec
from phasegate.evidence import Exchange, Redactor
from phasegate.outcomes import Conclusion, Outcome

NONE, WRONG, RIGHT = "none", "wrong", "right"
# An id no item or module has (SkillMeat ids are 32 hex characters).
UNKNOWN_ID = "0" * 31 + "1"
OTHER_UNKNOWN_ID = "0" * 31 + "2"
# Wrong credentials in every scheme SkillMeat reads at once: an X-API-Key in the `smk_` form its
# per-user key provider parses (other forms are skipped unread) and a JWT-shaped bearer token.
WRONG_API_KEY = "smk_live_phasegate_" + "0" * 32
# The token names the key of `PROBE_JWKS` (so a verifier gets as far as checking the signature),
# and its signature is not one.
WRONG_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InBoYXNlZ2F0ZS1wcm9iZSIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJwaGFzZWdhdGUiLCJpc3MiOiJ4In0.d3Jvbmc"
)
# A public RSA key (its private half was thrown away): what a Clerk JWKS endpoint serves.
PROBE_JWKS = {
    "keys": [
        {
            "kty": "RSA",
            "kid": "phasegate-probe",
            "use": "sig",
            "alg": "RS256",
            "e": "AQAB",
            "n": (
                "jSijy_WGnCzcROuXnefxvFMnTpmlB1QIYpQZ8feDQpzpo3TN11Bb-VReIQs1Jg-VN-l2Fi78yReA8Vv4GR"
                "RChZcrFQOiLUyy9-fTRg4GDQ-mTLruHpvExr-zNRWhOLMrBHuso5FT3C6Fd8M9f2XQQxS9zu8JCr9uLztc"
                "lAiWNZP05bct4Vzop5hvQoI74EFXOxn_G9RQJNSO8xATKdUPvWCfvenBS_gZyYlV4lQG19WPoH6PdDFAoZ"
                "Docc4QRgn0HaeG15dpPHE2TV84PmSDgpk72BXLzqHkiaHnIimfwH-pgfVO2raHWEqhD5LDIFE870foyMJE2"
                "XB6veduAtXMBQ"
            ),
        }
    ]
}
AUTH_EXPECTED = ("auto", "yes", "no")


@dataclass(frozen=True)
class ProbeRequest:
    operation: OperationSpec
    path: str  # below the API prefix, ids filled in
    params: Mapping[str, str]
    body: Any = None


def probe_project_id(run_id: str) -> str:
    """A project id in SkillMeat's form (base64 of a path) that no project has."""
    path = f"/tmp/phasegate-projects/{run_id or 'run'}/auth-probe-no-such-project"
    return base64.b64encode(path.encode()).decode()


def probe_requests(project_id: str, server_dir: str) -> list[ProbeRequest]:
    """One request per Memory & Context operation, valid in shape, touching nothing that exists.

    Every operation of `OPERATIONS` gets one; a new operation without a request here is a
    `KeyError` at once, so the probe never silently covers fewer than the contract suite.
    """
    project = {"project_id": project_id}
    reason = {"reason": "phasegate authentication probe"}
    corpus = {"text_corpus": "Decision: phasegate probes authentication.", "profile": "balanced"}
    pack = {"budget_tokens": 1000}
    item = {"type": "decision", "content": "phasegate authentication probe", "confidence": 0.5}
    module = {"name": "phasegate-auth-probe", "priority": 5}
    shapes: dict[tuple[str, str], tuple[Mapping[str, str], Any]] = {
        ("GET", "/memory-items"): (project, None),
        ("GET", "/memory-items/count"): (project, None),
        ("GET", "/memory-items/search"): ({"query": "phasegate", **project}, None),
        ("GET", "/memory-items/global"): ({"query": "phasegate"}, None),
        ("GET", "/memory-items/{item_id}"): ({}, None),
        ("GET", "/context-modules"): (project, None),
        ("GET", "/context-modules/{module_id}"): ({}, None),
        ("GET", "/context-modules/{module_id}/memories"): ({}, None),
        ("POST", "/memory-items"): (project, item),
        ("POST", "/memory-items/{item_id}/promote"): ({}, reason),
        ("POST", "/memory-items/{item_id}/deprecate"): ({}, reason),
        ("POST", "/memory-items/bulk-promote"): ({}, {"item_ids": [UNKNOWN_ID]}),
        ("POST", "/memory-items/bulk-deprecate"): ({}, {"item_ids": [UNKNOWN_ID]}),
        ("POST", "/memory-items/merge"): (
            {},
            {"source_id": UNKNOWN_ID, "target_id": OTHER_UNKNOWN_ID, "strategy": "keep_target"},
        ),
        ("POST", "/memory-items/extract/preview"): (project, corpus),
        ("POST", "/memory-items/extract/apply"): (project, corpus),
        ("POST", "/memory-items/export"): (
            {},
            {"out_dir": f"{server_dir}/export", "project_id": project_id, "include_index": False},
        ),
        ("POST", "/memory-items/import"): ({}, {"in_dir": f"{server_dir}/import", "dry_run": True}),
        ("POST", "/context-modules"): (project, module),
        ("POST", "/context-modules/{module_id}/memories"): ({}, {"memory_id": UNKNOWN_ID}),
        ("POST", "/context-packs/preview"): (project, pack),
        ("POST", "/context-packs/generate"): (project, pack),
        ("PUT", "/memory-items/{item_id}"): ({}, {"confidence": 0.6}),
        ("PUT", "/context-modules/{module_id}"): ({}, {"priority": 6}),
        ("DELETE", "/memory-items/{item_id}"): ({}, None),
        ("DELETE", "/context-modules/{module_id}"): ({}, None),
        ("DELETE", "/context-modules/{module_id}/memories/{memory_id}"): ({}, None),
    }
    out: list[ProbeRequest] = []
    for op in OPERATIONS:
        params, body = shapes[(op.method, op.path)]
        path = (
            op.path.replace("{item_id}", UNKNOWN_ID)
            .replace("{module_id}", UNKNOWN_ID)
            .replace("{memory_id}", UNKNOWN_ID)
        )
        out.append(ProbeRequest(op, path, params, body))
    return out


@dataclass(frozen=True)
class Answer:
    """One probe request and what came back (credentials named by kind, never by value)."""

    operation: str
    credentials: str
    request: str
    status: int | None
    body: str = ""

    @property
    def verdict(self) -> str:
        return classify(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "credentials": self.credentials,
            "request": self.request,
            "status": self.status,
            "answer": self.verdict,
            "body": self.body,
        }


def classify(status: int | None) -> str:
    """What one status means for authentication."""
    if status is None:
        return "no answer"
    if status in (401, 403):
        return "refused"
    if status == 429:
        return "rate-limited"
    if 200 <= status < 300:
        return "served"
    if status >= 500:
        return "server error"
    return "not refused"  # 3xx / other 4xx: the request reached the operation


def credential_config(base: ClientConfig, kind: str, right: ClientConfig | None) -> ClientConfig:
    """The client configuration of one credential kind (the right one only when given)."""
    plain = ClientConfig(base.api_url, base.api_version, base.timeout_s, run_id=base.run_id)
    if kind == NONE:
        return plain
    if kind == WRONG:
        return ClientConfig(
            base.api_url,
            base.api_version,
            base.timeout_s,
            api_key=WRONG_API_KEY,
            api_token=WRONG_TOKEN,
            run_id=base.run_id,
        )
    if right is None:
        raise ValueError("no right credential to send")
    return right


def send_probe(
    config: ClientConfig,
    kind: str,
    requests: Sequence[ProbeRequest],
    *,
    check_id: str | None = None,
    recorder: Callable[[Exchange], None] | None = None,
    secrets_to_hide: Sequence[str] = (),
) -> list[Answer]:
    """Send every probe request once with `config`'s credentials; nothing raises per request."""
    redactor = Redactor((*config.secrets, *secrets_to_hide))
    answers: list[Answer] = []
    with SkillMeatClient(config, recorder=recorder, check_id=check_id) as client:
        for probe in requests:
            path = f"{client.api_prefix}{probe.path}"
            query = "&".join(f"{k}={v}" for k, v in probe.params.items())
            shown = f"{probe.operation.method} {path}" + (f"?{query}" if query else "")
            try:
                response = _send(client, probe, path)
            except httpx.HTTPError as exc:
                answers.append(
                    Answer(probe.operation.label, kind, shown, None, redactor.text(repr(exc)))
                )
                continue
            answers.append(
                Answer(
                    probe.operation.label,
                    kind,
                    shown,
                    response.status_code,
                    redactor.text(response.text[:160]),
                )
            )
    return answers


def _send(client: SkillMeatClient, probe: ProbeRequest, path: str) -> httpx.Response:
    """One request; sent again once when the connection broke before an answer.

    A server may close a kept-alive connection after an error answer (0.74.0 in Clerk mode
    does after every 500): the next request on it then meets a reset that says nothing about
    that request. The probe changes nothing, so sending it again is safe; both tries are
    recorded.
    """
    for attempt in (1, 2):
        try:
            return client.request(
                probe.operation.method, path, params=probe.params, json=probe.body, allow_429=True
            )
        except httpx.TransportError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _examples(answers: Sequence[Answer], limit: int = 3) -> str:
    shown = ", ".join(f"{a.request} -> {a.status}" for a in answers[:limit])
    more = len(answers) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def judge(
    subject: str,
    probed: Sequence[Answer],
    right: Sequence[Answer] | None,
    right_missing: str | None = None,
) -> Conclusion:
    """FAIL on any operation not refused; PASS only when every one was refused.

    `right` (answers with the right credential) tells a server that authenticates from one that
    refuses everything: when the right credential is refused too, the refusals prove nothing
    about authentication (INCONCLUSIVE). `right_missing` says why it could not be sent.
    """
    kind = probed[0].credentials if probed else "?"
    by = {
        name: [a for a in probed if a.verdict == name]
        for name in (
            "served",
            "server error",
            "not refused",
            "rate-limited",
            "no answer",
            "refused",
        )
    }
    statuses = Counter(str(a.status) for a in probed)
    facts: dict[str, Any] = {
        "subject": subject,
        "credentials": kind,
        "operations": len(probed),
        "statuses": dict(sorted(statuses.items())),
        "answers": [a.to_dict() for a in probed],
    }
    if right is not None:
        facts["right_credential"] = {
            "statuses": dict(sorted(Counter(str(a.status) for a in right).items())),
            "refused": [a.request for a in right if a.verdict == "refused"],
        }
    elif right_missing:
        facts["right_credential"] = f"not sent: {right_missing}"
    without = "without credentials" if kind == NONE else "with wrong credentials"
    problems = []
    if by["served"]:
        problems.append(
            f"{len(by['served'])} served {without} (rule cross-project): " + _examples(by["served"])
        )
    if by["server error"]:
        problems.append(
            f"{len(by['server error'])} answered 5xx (rule server-error): "
            + _examples(by["server error"])
        )
    if by["not refused"]:
        problems.append(
            f"{len(by['not refused'])} reached the operation instead of a 401/403: "
            + _examples(by["not refused"])
        )
    if problems:
        return Conclusion(
            Outcome.FAIL,
            f"{subject}: of {len(probed)} Memory & Context operations " + "; ".join(problems),
            facts,
        )
    if not probed:
        return Conclusion(Outcome.INCONCLUSIVE, f"{subject}: no operation probed", facts)
    undecided = by["rate-limited"] + by["no answer"]
    if undecided:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"{subject}: {len(undecided)} of {len(probed)} operations got no judgeable answer "
            f"(429 or no answer): {_examples(undecided)}",
            facts,
        )
    if right is not None:
        refused_right = [a for a in right if a.verdict in ("refused", "rate-limited", "no answer")]
        if refused_right:
            return Conclusion(
                Outcome.INCONCLUSIVE,
                f"{subject}: every operation refused {without}, but the right credential was "
                f"refused or unanswered too on {len(refused_right)} "
                f"({_examples(refused_right)}): a server that refuses everyone proves nothing "
                "about authentication",
                facts,
            )
    confirmed = (
        f"; the right credential passed authentication on all {len(right)}"
        if right is not None
        else f"; the right credential was not confirmed ({right_missing or 'none given'})"
    )
    summary = (
        f"{subject}: all {len(probed)} Memory & Context operations refused {without} "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}){confirmed}"
    )
    facts["summary"] = summary
    return Conclusion(Outcome.PASS, summary, facts)


# -- the embedded default: SkillMeat's own authentication settings, one server per mode ---------


@dataclass(frozen=True)
class AuthMode:
    """One way SkillMeat's settings turn authentication on, as the embedded stack can run it.

    `settings` are SkillMeat environment variables; `{key}` in a value is replaced by a fresh
    random key per start, which is then the right credential (`right_header`). `unrunnable`
    names why a mode cannot run on this machine: its checks are INCONCLUSIVE with that reason.
    """

    name: str
    description: str
    settings: Mapping[str, str] = field(default_factory=dict)
    right_header: str | None = None  # "X-API-Key" or "Authorization" (bearer)
    no_right: str = ""  # why the probe has no right credential for this mode
    unrunnable: str = ""


MODES: tuple[AuthMode, ...] = (
    AuthMode(
        "auth-enabled",
        "SKILLMEAT_AUTH_ENABLED=true (auth provider: local, the default)",
        {"SKILLMEAT_AUTH_ENABLED": "true"},
        no_right="the local provider takes no credential",
    ),
    AuthMode(
        "api-key",
        "SKILLMEAT_API_KEY_ENABLED=true with SKILLMEAT_API_KEY",
        {"SKILLMEAT_API_KEY_ENABLED": "true", "SKILLMEAT_API_KEY": "{key}"},
        right_header="X-API-Key",
    ),
    AuthMode(
        "auth-enabled-api-key",
        "SKILLMEAT_AUTH_ENABLED=true and SKILLMEAT_API_KEY_ENABLED=true with SKILLMEAT_API_KEY",
        {
            "SKILLMEAT_AUTH_ENABLED": "true",
            "SKILLMEAT_API_KEY_ENABLED": "true",
            "SKILLMEAT_API_KEY": "{key}",
        },
        right_header="X-API-Key",
    ),
    AuthMode(
        "api-keys-v2",
        "SKILLMEAT_AUTH_ENABLED=true and SKILLMEAT_API_KEYS_V2_ENABLED=true (per-user smk_ keys)",
        {"SKILLMEAT_AUTH_ENABLED": "true", "SKILLMEAT_API_KEYS_V2_ENABLED": "true"},
        no_right="a per-user key is issued by POST /api/v1/api-keys to a signed-in user",
    ),
    AuthMode(
        "clerk",
        "SKILLMEAT_AUTH_ENABLED=true, SKILLMEAT_AUTH_PROVIDER=clerk (its JWKS served on "
        "loopback; no probe token is signed by its key)",
        {
            "SKILLMEAT_AUTH_ENABLED": "true",
            "SKILLMEAT_AUTH_PROVIDER": "clerk",
            "CLERK_JWKS_URL": "{jwks_url}/.well-known/jwks.json",
            "CLERK_ISSUER": "{jwks_url}",
        },
        no_right="a Clerk JWT needs Clerk's signing key",
    ),
    AuthMode(
        "enterprise",
        "SKILLMEAT_EDITION=enterprise (service-account PATs before the user provider)",
        unrunnable=(
            "the enterprise edition needs a PostgreSQL database with SkillMeat's enterprise "
            "schema and PAT secrets, which the embedded stack does not provision"
        ),
    ),
)
MODE_NAMES = tuple(mode.name for mode in MODES)


@dataclass(frozen=True)
class ModeRun:
    """What one mode's server answered: per credential kind, or why it did not run."""

    mode: AuthMode
    answers: Mapping[str, list[Answer]] = field(default_factory=dict)
    problem: str = ""
    log: str = ""

    def conclusion(self, kind: str) -> Conclusion:
        subject = f"SkillMeat with {self.mode.description}"
        if self.problem:
            return Conclusion(
                Outcome.INCONCLUSIVE,
                f"{subject}: not run: {self.problem}",
                {"subject": subject, "not_run": self.problem},
            )
        return judge(subject, self.answers[kind], self.answers.get(RIGHT), self.mode.no_right)


def mode_settings(mode: AuthMode, key: str, jwks_url: str) -> dict[str, str]:
    return {
        name: value.replace("{key}", key).replace("{jwks_url}", jwks_url)
        for name, value in mode.settings.items()
    }


def right_config(base: ClientConfig, header: str | None, key: str) -> ClientConfig | None:
    """The client configuration carrying the mode's right credential, if it has one."""
    if header == "X-API-Key":
        return ClientConfig(
            base.api_url, base.api_version, base.timeout_s, api_key=key, run_id=base.run_id
        )
    if header == "Authorization":
        return ClientConfig(
            base.api_url, base.api_version, base.timeout_s, api_token=key, run_id=base.run_id
        )
    return None


def new_key() -> str:
    return "pg-" + secrets.token_urlsafe(24)


def probe_server(
    url: str,
    *,
    api_version: str,
    timeout_s: float,
    run_id: str,
    server_dir: Path,
    right_header: str | None,
    key: str,
    check_id: str,
) -> dict[str, list[Answer]]:
    """Probe one server with no, wrong and (when it has one) the right credential."""
    base = ClientConfig(url, api_version, timeout_s, run_id=run_id)
    right = right_config(base, right_header, key)
    requests = probe_requests(probe_project_id(run_id), str(server_dir))
    out: dict[str, list[Answer]] = {}
    for kind in (NONE, WRONG, RIGHT):
        if kind == RIGHT and right is None:
            continue
        config = credential_config(base, kind, right)
        out[kind] = send_probe(config, kind, requests, check_id=check_id, secrets_to_hide=(key,))
    return out


def run_mode(
    mode: AuthMode,
    *,
    python: Path,
    log_dir: Path,
    api_version: str,
    timeout_s: float,
    run_id: str,
    check_id: str,
    progress: Callable[[str], None] = print,
) -> ModeRun:
    """Start one SkillMeat with the mode's settings, probe it, stop it (its HOME goes with it).

    The server is the stack's own `SkillMeatServer` (127.0.0.1, a free port, a fresh private
    HOME, `skillmeat cache status` first); the export folder of the probe lies inside that
    server's private root, so stopping it removes everything the probe could have created.
    """
    from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer, StartError

    if mode.unrunnable:
        return ModeRun(mode, problem=mode.unrunnable)
    key = new_key()
    log_path = log_dir / f"auth-skillmeat-{mode.name}.log"
    jwks = ProbeJwks()
    spec = ServerSpec(
        python=python,
        flag_on=True,
        log_path=log_path,
        name=f"skillmeat-auth-{mode.name}",
        extra_env=mode_settings(mode, key, jwks.start()),
    )
    server = SkillMeatServer(spec, progress)
    try:
        try:
            url = server.start()
        except StartError as exc:
            return ModeRun(
                mode, problem=f"SkillMeat did not start: {Redactor((key,)).text(str(exc))[-600:]}"
            )
        assert server.root is not None
        answers = probe_server(
            url,
            api_version=api_version,
            timeout_s=timeout_s,
            run_id=run_id,
            server_dir=server.root / "probe",
            right_header=mode.right_header,
            key=key,
            check_id=check_id,
        )
        return ModeRun(mode, answers, log=str(log_path))
    finally:
        server.stop()
        jwks.stop()


class ProbeJwks:
    """A reachable JWKS endpoint whose only key no probe token is signed with.

    Unreachable, SkillMeat answers 503 to every bearer token (its "identity provider down"
    path); served, the wrong token goes down the path a real deployment takes for a forged one.
    """

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                payload = json.dumps(PROBE_JWKS).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
