"""The API Gateway emulator: payload-2.0 events in, payload-2.0 responses out."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.gateway import Gateway
from local.http import DevRequest, DevResponse, DevRoute
from local.lambda_context import LocalFunction


def _echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(event)}


@pytest.fixture
def serve() -> Iterator[Any]:
    gateways: list[Gateway] = []

    def start(
        routes: list[tuple[str, LocalFunction]], dev_routes: dict[str, DevRoute] | None = None
    ) -> Gateway:
        gateway = Gateway("127.0.0.1", 0, routes, dev_routes or {})
        gateway.start()
        gateways.append(gateway)
        return gateway

    yield start
    for gateway in gateways:
        gateway.stop()


def test_post_becomes_a_payload_2_event(serve: Any) -> None:
    # given
    gateway = serve([("/", LocalFunction("api", _echo))])
    body = b"\x89PNG\xff\x00binary"

    # when
    response = httpx.post(
        f"{gateway.url}/v1/things?a=1&a=2&b=x%20y&empty=",
        content=body,
        headers=[
            ("Content-Type", "application/octet-stream"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "session=abc; theme=dark"),
            ("User-Agent", "tests/1.0"),
        ],
    )

    # then
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/v1/things"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["content-type"] == "application/octet-stream"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/v1/things",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == "$default"
    assert context["requestId"] == response.headers["apigw-requestid"]
    assert {"accountId", "apiId", "domainName", "domainPrefix", "time", "timeEpoch"} <= set(context)


def test_json_body_is_text_and_get_has_no_body_or_query(serve: Any) -> None:
    # given
    gateway = serve([("/", LocalFunction("api", _echo))])

    # when
    posted = httpx.post(f"{gateway.url}/v1/x", json={"name": "é"}).json()
    got = httpx.get(f"{gateway.url}/v1/x").json()

    # then
    assert posted["isBase64Encoded"] is False
    assert json.loads(posted["body"]) == {"name": "é"}
    assert "queryStringParameters" not in got
    assert "body" not in got
    assert "cookies" not in got
    assert got["isBase64Encoded"] is False


def test_form_posts_reach_the_handler_base64_encoded_like_http_apis(serve: Any) -> None:
    # given
    gateway = serve([("/", LocalFunction("api", _echo))])

    # when
    event = httpx.post(f"{gateway.url}/hook", data={"MessageStatus": "sent"}).json()

    # then
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"MessageStatus=sent"


def test_longest_prefix_wins(serve: Any) -> None:
    # given
    webhooks = LocalFunction("webhooks", lambda e, c: {"fn": "webhooks"})
    api = LocalFunction("api", lambda e, c: {"fn": "api"})
    gateway = serve([("/", api), ("/v1/callbacks/", webhooks)])

    # when
    callback = httpx.post(f"{gateway.url}/v1/callbacks/sendgrid").json()
    other = httpx.get(f"{gateway.url}/v1/notifications").json()

    # then
    assert callback == {"fn": "webhooks"}
    assert other == {"fn": "api"}


def test_response_translation_with_base64_body_and_cookies(serve: Any) -> None:
    # given
    png = b"\x89PNG\r\n\x1a\n\x00"

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "image/png", "X-Count": 3},
            "cookies": ["a=1; Path=/; HttpOnly", "b=2"],
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        }

    gateway = serve([("/", LocalFunction("api", handler))])

    # when
    response = httpx.get(f"{gateway.url}/image")

    # then
    assert response.status_code == 201
    assert response.content == png
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-count"] == "3"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/; HttpOnly", "b=2"]
    assert response.headers["apigw-requestid"]


@pytest.mark.parametrize(
    ("result", "body"),
    [({"ok": True}, {"ok": True}), (["a"], ["a"]), ("hello", None)],
)
def test_results_without_status_code_are_200_json(serve: Any, result: Any, body: Any) -> None:
    # given
    gateway = serve([("/", LocalFunction("api", lambda e, c: result))])

    # when
    response = httpx.get(f"{gateway.url}/")

    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    if body is None:
        assert response.text == result  # strings are passed through verbatim
    else:
        assert response.json() == body


def test_handler_raising_is_a_500_like_api_gateway(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    gateway = serve([("/", LocalFunction("api", handler))])

    # when
    response = httpx.get(f"{gateway.url}/")

    # then
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "boom" in caplog.text


def test_oversized_request_is_413(serve: Any) -> None:
    # given
    calls: list[Any] = []
    gateway = serve([("/", LocalFunction("api", lambda e, c: calls.append(e)))])

    # when: a declared 11 MB body, never sent
    with socket.create_connection(("127.0.0.1", gateway.port)) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11534336\r\n\r\n")
        status_line = connection.makefile("rb").readline()

    # then
    assert b" 413 " in status_line
    assert calls == []


def test_dev_routes_are_served_in_process(serve: Any) -> None:
    # given
    seen: list[DevRequest] = []

    def outbox(request: DevRequest) -> DevResponse:
        seen.append(request)
        if request.method == "DELETE":
            return DevResponse(204, b"")
        return DevResponse(200, [{"to": "a@example.com"}])

    api = LocalFunction("api", lambda e, c: pytest.fail("the API must not be invoked"))
    gateway = serve([("/", api)], {"/_dev/outbox": outbox})

    # when
    listed = httpx.get(f"{gateway.url}/_dev/outbox?channel=email")
    deleted = httpx.delete(f"{gateway.url}/_dev/outbox")
    missing = httpx.get(f"{gateway.url}/_dev/nothing")

    # then
    assert listed.json() == [{"to": "a@example.com"}]
    assert listed.headers["content-type"] == "application/json"
    assert deleted.status_code == 204
    assert missing.status_code == 404
    assert seen[0].method == "GET"
    assert seen[0].query == {"channel": "email"}
    assert seen[1].method == "DELETE"


def test_one_function_runs_one_invocation_at_a_time(serve: Any) -> None:
    # given
    running = 0
    most = 0
    lock = threading.Lock()

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return {"request_id": context.aws_request_id}

    gateway = serve([("/", LocalFunction("api", slow))])
    results: list[str] = []

    def call() -> None:
        results.append(httpx.get(f"{gateway.url}/").json()["request_id"])

    # when
    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert most == 1
    assert len(set(results)) == 4  # a fresh context per invocation


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "FOO"])
def test_unknown_methods_are_405_with_allow_not_501(serve: Any, method: str) -> None:
    # given
    calls: list[dict[str, Any]] = []
    gateway = serve([("/", LocalFunction("api", lambda event, _: calls.append(event) or {}))])

    # when
    response = httpx.request(method, f"{gateway.url}/v1/health")

    # then the handler never ran, and the client learns what it may use
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
    assert calls == []
