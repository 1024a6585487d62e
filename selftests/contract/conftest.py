"""Fixtures of the contract self-tests: the memory-items double, its schema, a sender to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from contract.double import ContractDouble, Fault, openapi, running
from phasegate.contract import FULL, ContractProfile, Sender
from phasegate.evidence import Redactor

# Small enough for the whole folder to stay well under a minute, large enough to hit every fault.
SMALL: ContractProfile = dataclasses.replace(FULL, positive_examples=10, negative_examples=10)
PROJECT = "pg-selftest-project"


@pytest.fixture
def double(request: pytest.FixtureRequest) -> Iterator[ContractDouble]:
    """Compliant, unless the test parametrizes it (indirectly) with a `Fault`."""
    fault: Fault | None = getattr(request, "param", None)
    with running(fault) as started:
        yield started


@pytest.fixture
def schema(double: ContractDouble) -> Any:
    loaded = schemathesis.openapi.from_dict(openapi())
    loaded.config.update(base_url=double.url)
    return loaded


@pytest.fixture
def sender(double: ContractDouble) -> Iterator[Sender]:
    started = Sender(double.url, {}, redactor=Redactor(()), timeout_s=5)
    yield started
    started.close()
