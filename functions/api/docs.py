"""GET /v1/docs: the interactive API reference (Powertools' Swagger UI), built on first request.

Powertools' `enable_swagger` imports its OpenAPI models when it registers the route: ~40 ms of
every cold start of the API, for a page few requests ask for. This route answers what that one
does — the Swagger UI page with the document embedded, `?format=json` the document alone,
`?format=oauth2-redirect` Swagger's OAuth2 redirect page — and imports that machinery only
when it is asked for.
"""

from __future__ import annotations

from pathlib import Path

from aws_lambda_powertools.event_handler import Response, content_types

from functions.api.contract import HeraldResolver


def register(app: HeraldResolver, path: str) -> None:
    @app.get(path, include_in_schema=False)
    def swagger_ui() -> Response[str]:
        from aws_lambda_powertools.event_handler.openapi import swagger_ui
        from aws_lambda_powertools.event_handler.openapi.compat import model_json
        from aws_lambda_powertools.event_handler.openapi.models import Server

        query = app.current_event.query_string_parameters or {}
        if query.get("format") == "oauth2-redirect":
            return _html(swagger_ui.generate_oauth2_redirect_html())
        document = app.get_openapi_schema(servers=[Server(url=app._get_base_path() or "/")])
        # `</` escaped: the document sits inside a <script> element of the page.
        spec = model_json(document, by_alias=True, exclude_none=True, indent=2).replace(
            "</", "<\\/"
        )
        if query.get("format") == "json":
            return Response(200, content_types.APPLICATION_JSON, spec)
        assets = Path(swagger_ui.__file__).parent
        script = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
        style = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
        return _html(swagger_ui.generate_swagger_html(spec, script, style, "", None))


def _html(body: str) -> Response[str]:
    return Response(200, content_types.TEXT_HTML, body)
