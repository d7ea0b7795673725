"""Alarms on what must never pile up silently."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.constants import METRICS_NAMESPACE, NAME_PREFIX
from infra.queues import RedrivenQueue


class DeadLetterAlarms(Construct):
    """One alarm per dead-letter queue: any message there is a delivery that needs a look."""

    def __init__(
        self, scope: Construct, construct_id: str, *, queues: Sequence[RedrivenQueue]
    ) -> None:
        super().__init__(scope, construct_id)
        for queue in queues:
            dead_letters = queue.dead_letter_queue
            cloudwatch.Alarm(
                self,
                f"{queue.node.id}Alarm",
                alarm_description=f"Messages in {dead_letters.queue_name}",
                metric=dead_letters.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )


class CircuitBreakerAlarm(Construct):
    """An alarm when any integration's circuit breaker opens: a provider account of a tenant
    is failing (the `CircuitOpened` metric the sending workers emit through Powertools)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.metric = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="CircuitOpened",
            # Powertools adds the service as a dimension of every metric.
            dimensions_map={"service": NAME_PREFIX},
            period=Duration.minutes(1),
            statistic=cloudwatch.Stats.SUM,
        )
        cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_description="A provider integration's circuit breaker opened",
            metric=self.metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
