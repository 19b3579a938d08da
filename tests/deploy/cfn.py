"""Reading deploy/*.yaml as CloudFormation does: the short-form tags (!Ref, !Sub, !GetAtt ...)
become their long forms ({"Ref": ...}, {"Fn::Sub": ...}), and a template's conditions, its
!If and AWS::NoValue resolve for a given deployment (which conditions hold)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"

_FUNCTIONS = (
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "If", "ImportValue", "Join",
    "Not", "Or", "Select", "Split", "Sub", "Transform",
)  # fmt: skip


class TemplateLoader(yaml.SafeLoader):
    """yaml.SafeLoader that knows CloudFormation's short-form tags."""


def _construct(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)  # !GetAtt A.Arn == {"Fn::GetAtt": ["A", "Arn"]}
        return {name: value}

    return construct


TemplateLoader.add_constructor("!Ref", _construct("Ref"))
TemplateLoader.add_constructor("!Condition", _construct("Condition"))
TemplateLoader.add_constructor("!GetAtt", _construct("Fn::GetAtt"))
for _name in _FUNCTIONS:
    TemplateLoader.add_constructor(f"!{_name}", _construct(f"Fn::{_name}"))


def load(name: str) -> dict[str, Any]:
    with (DEPLOY / name).open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=TemplateLoader)  # a SafeLoader
    assert isinstance(data, dict)
    return data


NO_VALUE = {"Ref": "AWS::NoValue"}


def resolve_conditions(node: Any, holds: Mapping[str, bool]) -> Any:
    """`node` with every Fn::If decided by `holds` (condition name -> whether it holds) and
    AWS::NoValue removed from lists and mappings, as CloudFormation would deploy it."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, then, otherwise = node["Fn::If"]
            return resolve_conditions(then if holds[condition] else otherwise, holds)
        out = {}
        for key, value in node.items():
            resolved = resolve_conditions(value, holds)
            if resolved != NO_VALUE:
                out[key] = resolved
        return out
    if isinstance(node, list):
        items = [resolve_conditions(item, holds) for item in node]
        return [item for item in items if item != NO_VALUE]
    return node


def deployed(template: dict[str, Any], holds: Mapping[str, bool]) -> dict[str, Any]:
    """The resources CloudFormation creates when `holds` says which conditions hold."""
    missing = set(template.get("Conditions", {})) - set(holds)
    assert not missing, f"say whether {missing} hold"
    resources = {
        name: resolve_conditions(resource, holds)
        for name, resource in template["Resources"].items()
        if holds.get(resource.get("Condition", ""), True)
    }
    return {**template, "Resources": resources}


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from as_list(document["Statement"])


def role_statements(template: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    """Every statement a role's principal is allowed by: its inline policies and the managed
    policies of this template it attaches."""
    properties = template["Resources"][role]["Properties"]
    for policy in properties.get("Policies", []):
        yield from statements(policy["PolicyDocument"])
    for arn in properties.get("ManagedPolicyArns", []):
        assert isinstance(arn, dict) and "Ref" in arn, f"{role}: {arn} is not this template's"
        managed = template["Resources"][arn["Ref"]]
        assert managed["Type"] == "AWS::IAM::ManagedPolicy"
        yield from statements(managed["Properties"]["PolicyDocument"])


def actions_of(statement: dict[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement["Action"])]
