"""Run on every deploy by a CDK trigger: apply pending database migrations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import database_url
from herald.db.migrate import migrate
from herald.settings import Settings

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    applied = migrate(database_url(settings), settings.database_prepare_threshold)
    logger.info("migrations applied", extra={"applied": applied})
    return {"applied": applied}
