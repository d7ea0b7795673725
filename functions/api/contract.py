"""The OpenAPI document as the contract: every status an operation can answer, with its schema.

Powertools derives each operation's success response from the route's return type, and adds a
FastAPI-style 422 and a 500 Herald never sends. `HeraldResolver` rewrites that, for every
route including those added later:
- the errors a route shares with others follow from what the document already says of it:
  400 always (parameters and body are validated); 401 and 403 when it needs an API key; 404
  when its path names a resource; 409 when it takes an `Idempotency-Key`; 413 and 415 when it
  takes a JSON body; 429 always (API Gateway's stage throttling, in API Gateway's own shape);
- a route declares only what is its own, with `responses=declare(201, 409, 422)`: its success
  status (first) and the domain errors its service raises;
- a route without an API key (`security=NO_API_KEY`, one empty requirement, as a router drops
  `security=[]`) is written as `security: []`.
The error schema is `Error` (API.md's shape), defined once and referenced everywhere.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from functions.api.guards import JSON_MEDIA_TYPES, RouteShape

if TYPE_CHECKING:
    # ~150 ms of pydantic model building: imported only when a document is generated.
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

JSON = "application/json"
ERROR_REF = {"$ref": "#/components/schemas/Error"}

DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "Done; no body",
    400: "Malformed body or parameters (`VALIDATION_ERROR`; details name the fields)",
    401: "No API key, or not a valid one (`UNAUTHENTICATED`)",
    403: "The API key lacks the scope (`FORBIDDEN`)",
    404: "No such resource for this tenant (`NOT_FOUND`)",
    409: "Conflicts with the current state or an earlier request (`CONFLICT`)",
    413: "Body over 1 MB (`PAYLOAD_TOO_LARGE`)",
    415: "Body not JSON in UTF-8 (`UNSUPPORTED_MEDIA_TYPE`)",
    422: "Well-formed, but breaks a business rule (`UNPROCESSABLE`)",
    429: 'Throttled by API Gateway (its own body, `{"message": "Too Many Requests"}`)',
}


class ErrorInfo(BaseModel):
    model_config = ConfigDict(title="ErrorInfo")

    code: str = Field(description="VALIDATION_ERROR, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, ...")
    message: str
    details: list[dict[str, Any]] = Field(
        description="For VALIDATION_ERROR and UNPROCESSABLE: `{field, message}` per problem"
    )


class Error(BaseModel):
    """API.md's error shape, answered with every 4xx."""

    error: ErrorInfo
    request_id: str


class GatewayMessage(BaseModel):
    """What API Gateway itself answers when it throttles."""

    message: str


def declare(success: int, *errors: int) -> dict[int, OpenAPIResponse]:
    """A route's own responses: its success status, whose body is the route's return type
    (none for 204), and the errors its service raises beyond those every route shares."""
    declared: dict[int, OpenAPIResponse] = {success: {"description": DESCRIPTIONS[success]}}
    for status in errors:
        declared[status] = _error(status)
    return declared


def _error(status: int) -> OpenAPIResponse:
    return {"description": DESCRIPTIONS[status], "content": {JSON: {"schema": ERROR_REF}}}


class HeraldResolver(APIGatewayHttpResolver):
    """Powertools' resolver, whose OpenAPI document lists what the API really answers."""

    def route_shapes(self) -> list[RouteShape]:
        """Each route's method, path pattern and whether it takes a JSON body (for guards)."""
        return [
            RouteShape(route.method, route.rule, functools.partial(_takes_json, route))
            for route in self._routes()
        ]

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        generated = super().get_openapi_schema(**kwargs)
        document = generated.model_dump(mode="json", by_alias=True, exclude_none=True)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (Error, ErrorInfo, GatewayMessage):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schema.pop("$defs", None)
            schemas[model.__name__] = schema
        no_api_key = {
            (route.openapi_path, route.method.lower())
            for route in self._routes()
            if route.security is not None and not any(route.security)
        }
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if (path, method) in no_api_key:
                    operation["security"] = []
                secured = operation.get("security", document.get("security")) != []
                _complete_responses(operation, secured)
        for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
            schemas.pop(unused, None)
        from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

        return OpenAPI.model_validate(document)

    def _routes(self) -> list[Route]:
        # Powertools keeps the routes of every included router here (its own OpenAPI and
        # resolve walk the same two lists).
        return self._static_routes + self._dynamic_routes


def _takes_json(route: Route) -> bool:
    field = route.body_field
    return field is not None and getattr(field.field_info, "media_type", JSON) in JSON_MEDIA_TYPES


def _complete_responses(operation: dict[str, Any], secured: bool) -> None:
    responses = {int(status): response for status, response in operation["responses"].items()}
    for status, response in list(responses.items()):
        ref = response.get("content", {}).get(JSON, {}).get("schema", {}).get("$ref", "")
        if re.search(r"/(HTTPValidationError|ResponseValidationError)$", ref):
            del responses[status]
    for status, response in responses.items():
        if status == 204:
            response.pop("content", None)
    parameters = operation.get("parameters", [])
    body_types = set(operation.get("requestBody", {}).get("content", {}))
    shared = {400, 429}
    if secured:
        shared |= {401, 403}
    if any(p["in"] == "path" for p in parameters):
        shared.add(404)
    if any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in parameters):
        shared.add(409)
    if body_types & set(JSON_MEDIA_TYPES):
        shared |= {413, 415}
    for status in sorted(shared):
        response = responses.setdefault(status, {"description": DESCRIPTIONS[status]})
        content = response.setdefault("content", {})
        # A route may answer an error as a page (end-user pages); the guards answer JSON.
        schema = {"$ref": "#/components/schemas/GatewayMessage"} if status == 429 else ERROR_REF
        content.setdefault(JSON, {"schema": schema})
    operation["responses"] = dict(sorted(responses.items()))
