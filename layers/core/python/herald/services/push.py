"""Composing push and web push messages for one delivery, and the payload limits they obey.

No provider SDK here: what FCM and the browsers' push services measure is computed from the
content, so the API (accept, preview) and the workers refuse the same oversized payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from herald.channels.base import PushMessage, PushTarget, WebPushMessage, WebPushTarget
from herald.models.content import PushContent, WebPushContent
from herald.templating import RenderFailed

# FCM refuses a message whose notification and data payload exceed 4096 bytes.
FCM_MAX_PAYLOAD_BYTES = 4096
# Push services accept 4096 bytes of encrypted body (RFC 8030 §7.2). aes128gcm (RFC 8188,
# RFC 8291) adds a 86-byte header (salt 16, record size 4, key id length 1, key id 65), a
# padding delimiter (1) and the AEAD tag (16): 3993 bytes of JSON fit.
WEB_PUSH_MAX_ENCRYPTED_BYTES = 4096
WEB_PUSH_MAX_PAYLOAD_BYTES = WEB_PUSH_MAX_ENCRYPTED_BYTES - 86 - 1 - 16


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def push_payload(content: Mapping[str, Any]) -> dict[str, Any]:
    """What FCM counts against its limit: the notification and the data."""
    notification = {k: content[k] for k in ("title", "body", "image") if content.get(k)}
    return {"notification": notification, "data": dict(content.get("data") or {})}


def web_push_payload(content: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON a service worker receives: `{title, body, url, icon, data}`."""
    return {
        "title": content["title"],
        "body": content["body"],
        "url": content.get("url"),
        "icon": content.get("icon"),
        "data": content.get("data") or {},
    }


def payload_bytes(channel: str, content: Mapping[str, Any]) -> int | None:
    """The size the provider measures for push and web push content; None for other channels."""
    if channel == "push":
        return _json_bytes(push_payload(content))
    if channel == "web_push":
        return _json_bytes(web_push_payload(content))
    return None


def payload_limit(channel: str) -> int | None:
    return {"push": FCM_MAX_PAYLOAD_BYTES, "web_push": WEB_PUSH_MAX_PAYLOAD_BYTES}.get(channel)


def oversized(channel: str, content: Mapping[str, Any]) -> str | None:
    """Why the content is too big for its provider, or None when it fits."""
    size, limit = payload_bytes(channel, content), payload_limit(channel)
    if size is None or limit is None or size <= limit:
        return None
    return f"{channel} payload is {size:,} bytes, over the {limit:,} bytes the provider accepts"


def _validated(model: type[PushContent] | type[WebPushContent], content: Mapping[str, Any]) -> Any:
    """Rendered template content, checked like inline content (a template may render a
    badge of 'many'); RenderFailed names what is wrong."""
    try:
        return model.model_validate({k: v for k, v in content.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RenderFailed(f"rendered content is invalid: {where}: {first['msg']}") from None


def compose_push(content: Mapping[str, Any], devices: Iterable[Mapping[str, Any]]) -> PushMessage:
    """The push message of a delivery to these devices. Raises RenderFailed when the content
    is invalid or over FCM's payload limit (a template can render more than it was saved with)."""
    push: PushContent = _validated(PushContent, content)
    if (problem := oversized("push", push.model_dump())) is not None:
        raise RenderFailed(problem)
    return PushMessage(
        targets=tuple(PushTarget(d["id"], d["platform"], d["address"]) for d in devices),
        title=push.title,
        body=push.body,
        data=dict(push.data or {}),
        image=push.image,
        badge=push.badge,
        sound=push.sound,
        ttl_seconds=push.ttl_seconds,
        collapse_key=push.collapse_key,
        priority=push.priority,
    )


def compose_web_push(
    content: Mapping[str, Any], devices: Iterable[Mapping[str, Any]]
) -> WebPushMessage:
    """The web push message of a delivery to these subscriptions; RenderFailed when invalid
    or over the encrypted size limit."""
    web: WebPushContent = _validated(WebPushContent, content)
    payload = web_push_payload(web.model_dump())
    if (problem := oversized("web_push", payload)) is not None:
        raise RenderFailed(problem)
    return WebPushMessage(
        targets=tuple(
            WebPushTarget(d["id"], d["address"], d["p256dh"], d["auth"]) for d in devices
        ),
        payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
        ttl_seconds=web.ttl_seconds,
        urgency=web.urgency,
        topic=web.topic,
    )
