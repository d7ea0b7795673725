"""cdk-nag (AWS Solutions): no finding left unacknowledged, and every acknowledgment explained."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

from infra.stack import HeraldStack

pytestmark = pytest.mark.infra


def _findings(scope: cdk.Stack) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(scope)
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def test_the_check_reports_what_it_is_not_told_to_accept() -> None:
    # given: a queue without a dead-letter queue or TLS enforcement
    stack = cdk.Stack(cdk.App(), "Unchecked")
    sqs.Queue(stack, "Queue")

    # when
    findings = _findings(stack)

    # then
    assert any("AwsSolutions-SQS3" in finding for finding in findings), findings


def test_herald_has_no_unacknowledged_aws_solutions_finding(herald_stack: HeraldStack) -> None:
    # given: the stack as app.py builds it

    # when
    findings = _findings(herald_stack)

    # then
    assert findings == []


def test_every_acknowledgment_gives_a_reason(herald_stack: HeraldStack) -> None:
    # given
    constructs = herald_stack.node.find_all()

    # when
    acknowledgments = [
        (construct.node.path, rule, reason)
        for construct in constructs
        for entry in construct.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    ]

    # then
    assert any("AwsSolutions-" in rule for _, rule, _ in acknowledgments)
    for path, rule, reason in acknowledgments:
        assert len(str(reason).strip()) >= 20, f"{rule} at {path} needs a reason"
