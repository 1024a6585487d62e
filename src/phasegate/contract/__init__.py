"""Contract fuzzing of the Memory & Context operations against the target's own OpenAPI."""

from phasegate.contract.crud import RESOURCES, CrudReport, Resource, crud_sequences
from phasegate.contract.fuzz import CaseFailure, FuzzReport, Pins, Sender, fuzz_operation
from phasegate.contract.operations import OPERATIONS, OperationSpec, uncatalogued
from phasegate.contract.profiles import (
    CHOICES,
    FULL,
    SAFE,
    ContractProfile,
    ProfileError,
    profile_for,
)
from phasegate.contract.schema import LoadedSchema, SchemaUnavailable, load_schema

__all__ = [
    "CHOICES",
    "FULL",
    "OPERATIONS",
    "RESOURCES",
    "SAFE",
    "CaseFailure",
    "ContractProfile",
    "CrudReport",
    "FuzzReport",
    "LoadedSchema",
    "OperationSpec",
    "Pins",
    "ProfileError",
    "Resource",
    "SchemaUnavailable",
    "Sender",
    "crud_sequences",
    "fuzz_operation",
    "load_schema",
    "profile_for",
    "uncatalogued",
]
