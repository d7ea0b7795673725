"""The inbox WebSocket API's `$connect` and `$disconnect` routes.

A browser connects with its inbox token in the query string (`?token=`: browsers cannot
set headers on a WebSocket) from an origin the tenant allows; the connection is kept in
PostgreSQL so that any function can push to it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import database_url, link_signing_key
from herald.db import inbox_connections
from herald.db.connection import Database
from herald.errors import Forbidden, Unauthenticated
from herald.services import inbox
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
links_secret_id = settings.required("links_secret_id")


def connect(event: dict[str, Any]) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        user = inbox.authenticate_token(
            link_signing_key(links_secret_id), token, now=datetime.now(UTC)
        )
        inbox.check_origin(db, user, headers.get("origin"))
    except (Unauthenticated, Forbidden) as exc:
        status = 403 if isinstance(exc, Forbidden) else 401
        return {"statusCode": status, "body": json.dumps({"message": exc.message})}
    connection_id = event["requestContext"]["connectionId"]
    inbox_connections.add_connection(db.connection(), connection_id, user.tenant_id, user.user_id)
    return {"statusCode": 200}


def disconnect(event: dict[str, Any]) -> dict[str, Any]:
    inbox_connections.remove_connections(db.connection(), [event["requestContext"]["connectionId"]])
    return {"statusCode": 200}


ROUTES = {"$connect": connect, "$disconnect": disconnect}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = ROUTES.get(event["requestContext"]["routeKey"])
    if route is None:
        return {"statusCode": 404}
    return route(event)
