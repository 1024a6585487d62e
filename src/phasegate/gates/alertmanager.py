"""Alertmanager as an alert source: every alert it holds, from /api/v2/alerts.

Silenced and inhibited alerts are asked for explicitly (`silenced=true&inhibited=true`): a P0 that
someone silenced is still a P0 for the rollout decision, and its evidence names the silence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from phasegate.gates.observation import Alert

ALERTS_PATH = "/api/v2/alerts"


class AlertmanagerClient:
    """Reads active alerts, retrying a few consecutive errors; never raises for transport errors."""

    def __init__(
        self,
        url: str,
        *,
        disable_ssl: bool = False,
        timeout_s: float = 10.0,
        attempts: int = 3,
        retry_delay_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.disable_ssl = disable_ssl
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.retry_delay_s = retry_delay_s
        self._sleep = sleep
        self._transport = transport
        self.unreachable: str | None = None

    def _client(self) -> httpx.Client:
        return httpx.Client(
            verify=not self.disable_ssl, timeout=self.timeout_s, transport=self._transport
        )

    def fetch(self) -> list[dict[str, Any]]:
        """The raw alert list; raises RuntimeError after `attempts` consecutive failures."""
        if self.unreachable is not None:
            raise RuntimeError(f"{self.unreachable} (not retried again)")
        params = {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"}
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                with self._client() as http:
                    response = http.get(f"{self.url}{ALERTS_PATH}", params=params)
                if response.status_code == 200:
                    data = response.json()
                    if isinstance(data, list):
                        return [a for a in data if isinstance(a, dict)]
                    last = f"unexpected body: {str(data)[:200]}"
                else:
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                self._sleep(self.retry_delay_s * attempt)
        self.unreachable = (
            f"Alertmanager at {self.url} did not answer {ALERTS_PATH} "
            f"({self.attempts} attempts): {last}"
        )
        raise RuntimeError(self.unreachable)

    def active_alerts(self) -> tuple[tuple[Alert, ...], str | None]:
        """(alerts, error): every alert Alertmanager holds now, or why none could be read."""
        try:
            raw = self.fetch()
        except RuntimeError as exc:
            return (), str(exc)
        return tuple(to_alert(item) for item in raw), None

    def ready(self) -> tuple[bool, str]:
        try:
            with self._client() as http:
                response = http.get(f"{self.url}/-/ready")
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return response.status_code == 200, f"HTTP {response.status_code}"


def to_alert(item: dict[str, Any]) -> Alert:
    labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
    status = item.get("status") or {}
    return Alert(
        name=labels.get("alertname", "?"),
        severity=labels.get("severity", ""),
        state=str(status.get("state", "active")),
        source="alertmanager",
        labels=labels,
        silenced_by=tuple(str(s) for s in status.get("silencedBy") or ()),
        inhibited_by=tuple(str(s) for s in status.get("inhibitedBy") or ()),
        starts_at=str(item.get("startsAt", "")),
    )
