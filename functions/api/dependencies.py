"""What the API's routes use, built once per execution environment (cold start)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler.request import Request
from herald.aws.scheduler import OneTimeScheduler
from herald.aws.secrets import database_url
from herald.aws.sqs import MessageQueue
from herald.db.connection import Database
from herald.services.auth import Principal, authenticate
from herald.services.notifications import SendPorts
from herald.settings import Settings

settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
send_ports = SendPorts(
    dispatch_queue=MessageQueue(settings.required("dispatch_queue_url")),
    scheduler=OneTimeScheduler(
        group=settings.schedule_group,
        role_arn=settings.required("scheduler_role_arn"),
        target_arn=settings.required("dispatch_queue_arn"),
    ),
)


def scope(name: str) -> Callable[[Request], Principal]:
    """A route dependency: the caller's Principal, which must hold scope `name`."""

    def principal_with_scope(request: Request) -> Principal:
        principal = authenticate(db, request.headers.get("authorization"))
        principal.require(name)
        return principal

    principal_with_scope.__name__ = f"principal_with_{name}_scope"
    return principal_with_scope
