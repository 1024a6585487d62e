"""Bench locustfile (not part of tests/load): hammer GET /health with no think time.

Two user classes, chosen by name on the command line: HealthUser (locust's requests-based
HttpUser, the client every tests/load profile uses) and FastHealthUser (geventhttpclient).
"""

from __future__ import annotations

from locust import FastHttpUser, HttpUser, constant, task


class HealthUser(HttpUser):
    wait_time = constant(0)

    @task
    def health(self) -> None:
        self.client.get("/health", name="service health")


class FastHealthUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def health(self) -> None:
        self.client.get("/health", name="service health")
