"""Fault drills: targets made wrong on purpose, to prove that the checks notice.

`faultproxy.FaultProxy` stands in front of a real SkillMeat and breaks chosen answers, chosen by
data (`Rule`s), so that every check can be shown to fail against a target that violates it.
"""

from phasegate.drills.faultproxy import (
    CHECK_HEADER,
    Action,
    ActionError,
    Answer,
    Capture,
    Delay,
    DeleteField,
    DropItems,
    FaultProxy,
    ProxyEvent,
    ProxyRequest,
    ProxyResponse,
    Ref,
    RemoveElement,
    RemoveHeader,
    ReplaceBody,
    Responder,
    Rule,
    RuleStats,
    SetField,
    SetHeader,
    SetStatus,
    SubText,
    Upstream,
)

__all__ = [
    "CHECK_HEADER",
    "Action",
    "ActionError",
    "Answer",
    "Capture",
    "Delay",
    "DeleteField",
    "DropItems",
    "FaultProxy",
    "ProxyEvent",
    "ProxyRequest",
    "ProxyResponse",
    "Ref",
    "RemoveElement",
    "RemoveHeader",
    "ReplaceBody",
    "Responder",
    "Rule",
    "RuleStats",
    "SetField",
    "SetHeader",
    "SetStatus",
    "SubText",
    "Upstream",
]
