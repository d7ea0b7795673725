"""Database migrations run on every deploy that changes the migrations function."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import triggers
from constructs import Construct

from infra.constants import MIGRATIONS_FUNCTION


class MigrationsOnDeploy(Construct):
    """Invokes the migrations function once the database and its proxy exist.

    The trigger runs again whenever the function's code changes (a new migration file ships
    in the core layer, which changes the function's version), and a failed migration fails
    the deployment.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        after: list[Construct],
    ) -> None:
        super().__init__(scope, construct_id)
        self.trigger = triggers.Trigger(
            self,
            "Trigger",
            handler=function,
            execute_after=after,
            timeout=MIGRATIONS_FUNCTION.timeout,
        )
