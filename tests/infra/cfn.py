"""Small queries over a synthesized CloudFormation template (plain dicts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Resources = dict[str, dict[str, Any]]


def of_type(resources: Resources, resource_type: str) -> Resources:
    """Resources of one CloudFormation type, by logical id."""
    return {key: value for key, value in resources.items() if value["Type"] == resource_type}


def herald_functions(resources: Resources) -> dict[str, dict[str, Any]]:
    """Herald's own functions (not CDK's custom-resource providers), by handler."""
    return {
        function["Properties"]["Handler"]: function
        for function in of_type(resources, "AWS::Lambda::Function").values()
        if function["Properties"]["Handler"].startswith("functions.")
    }


def logical_id(reference: Any) -> str:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if "Ref" in reference:
        return str(reference["Ref"])
    return str(reference["Fn::GetAtt"][0])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(resources: Resources) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement of the template, with the logical id that holds it."""
    for key, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        else:
            continue
        for document in documents:
            for statement in as_list(document["Statement"]):
                yield key, statement
