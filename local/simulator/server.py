"""The provider simulator's HTTP server: one loopback port for every simulated provider."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from local.http import DevRequest, DevResponse, DevRoute, LocalHttpServer
from local.simulator import fcm, ses, web_push
from local.simulator import twilio as twilio_api
from local.simulator.callbacks import CallbackDispatcher
from local.simulator.fcm import FcmSimulator
from local.simulator.modes import SLOW_SECONDS, ProviderModes, unavailable
from local.simulator.outbox import Outbox
from local.simulator.sendgrid import SendGridSimulator
from local.simulator.twilio import TwilioSimulator
from local.simulator.web_push import WebPushSimulator

logger = logging.getLogger(__name__)

DEFAULT_SENDGRID_API_KEY = "SG.herald-local-simulator"
DEFAULT_TWILIO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_TWILIO_AUTH_TOKEN = "herald-local-simulator-auth-token"  # noqa: S105 - loopback only


class ProviderSimulator:
    """Speaks the providers' APIs on loopback, records to an outbox and calls Herald back."""

    def __init__(  # noqa: PLR0917 - positional, as the runtime constructs it
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        outbox: Outbox | None = None,
        sendgrid_api_key: str = DEFAULT_SENDGRID_API_KEY,
        callback_base_url: str | None = None,
        latency_ms: int = 0,
        event_delay_seconds: float = 0.2,
        *,
        sendgrid_signing_key: ec.EllipticCurvePrivateKey | None = None,
        twilio_account_sid: str = DEFAULT_TWILIO_ACCOUNT_SID,
        twilio_auth_token: str = DEFAULT_TWILIO_AUTH_TOKEN,
        web_push_subscriptions: Path | None = None,
    ) -> None:
        """`web_push_subscriptions`: where to keep the web push subscriptions' keys across
        restarts (kept in memory only when None)."""
        self.outbox = outbox if outbox is not None else Outbox()
        self._callback_base_url = callback_base_url
        self._latency_seconds = latency_ms / 1000
        self._callbacks = CallbackDispatcher()
        self._sendgrid = SendGridSimulator(
            self.outbox,
            self._callbacks,
            api_key=sendgrid_api_key,
            callback_base_url=lambda: self._callback_base_url,
            event_delay_seconds=event_delay_seconds,
            signing_key=sendgrid_signing_key,
        )
        self.twilio = TwilioSimulator(
            self.outbox,
            self._callbacks,
            account_sid=twilio_account_sid,
            auth_token=twilio_auth_token,
            callback_base_url=lambda: self._callback_base_url,
            event_delay_seconds=event_delay_seconds,
        )
        self._fcm = FcmSimulator(self.outbox)
        self._web_push = WebPushSimulator(self.outbox, web_push_subscriptions)
        self.ses = ses.SesSimulator(self.outbox, event_delay_seconds=event_delay_seconds)
        # `POST /_dev/providers/{provider}`: accounts made to fail or crawl on purpose.
        self.modes = ProviderModes()
        self._routes: dict[tuple[str, str], DevRoute] = {
            ("POST", "/v3/mail/send"): self._sendgrid.send_mail,
            ("POST", fcm.TOKEN_PATH): self._fcm.token,
            ("POST", ses.SEND_PATH): self.ses.send_email,
        }
        # Paths that carry an id: (method, prefix, suffix) -> route.
        self._prefix_routes: list[tuple[str, str, str, DevRoute]] = [
            ("POST", fcm.SEND_PATH_PREFIX, fcm.SEND_PATH_SUFFIX, self._fcm.send),
            ("POST", web_push.PATH_PREFIX, "", self._web_push.push),
        ]
        self._server = LocalHttpServer(host, port, self._handle)

    @property
    def url(self) -> str:
        """Base URL to point provider clients at, e.g. SendGridAPIClient(host=url)."""
        return self._server.url

    @property
    def port(self) -> int:
        """The bound port (after `start()`)."""
        return self._server.port

    @property
    def twilio_auth_token(self) -> str:
        """The auth token the Twilio client authenticates with and callbacks are signed with."""
        return self.twilio.auth_token

    @property
    def sendgrid_public_key(self) -> str:
        """The Event Webhook verification key, base64 DER, as SendGrid's dashboard shows it."""
        return self._sendgrid.public_key

    def fcm_service_account(self, project_id: str = fcm.PROJECT_ID) -> dict[str, str]:
        """The service-account JSON of a Firebase project (the deployment's, `herald-local`,
        by default): its key is a throwaway one the simulator made, its `token_uri` the
        simulator's OAuth token endpoint. ValueError for a malformed project id."""
        return self._fcm.service_account(self.url, project_id)

    def fcm_registration_token(self, project_id: str = fcm.PROJECT_ID) -> str:
        """A device's registration token for a Firebase project's app: sent through another
        project, FCM answers SENDER_ID_MISMATCH."""
        return self._fcm.registration_token(project_id)

    def create_web_push_subscription(
        self, behaviour: str = "ok", application_server_key: str | None = None
    ) -> dict[str, object]:
        """A subscription with real keys, as a browser makes one with
        `pushManager.subscribe({applicationServerKey})` (default: the deployment's key); the
        simulator keeps the private key and decrypts what is pushed to it, signed with that
        key only. ValueError for an unknown behaviour or a malformed key."""
        return self._web_push.create_subscription(self.url, behaviour, application_server_key)

    def expect_vapid_key(self, public_key: str | None) -> None:
        """The deployment's VAPID public key, which subscriptions made without naming one are
        bound to: pushes to them signed with another key are refused (403)."""
        self._web_push.expect_vapid_key(public_key)

    def set_latency(self, latency_ms: int) -> None:
        """Latency every provider call takes from now on, as a real provider's would."""
        self._latency_seconds = latency_ms / 1000

    def set_callback_base_url(self, url: str | None) -> None:
        """Where provider callbacks go: Herald's gateway URL, known once it has started."""
        self._callback_base_url = url

    def start(self) -> None:
        """Serve and post callbacks from daemon threads."""
        self._callbacks.start()
        self._server.start()

    def stop(self) -> None:
        """Stop serving; callbacks not yet posted are dropped."""
        self._server.stop()
        self._callbacks.stop()
        self.outbox.close()

    def _handle(self, request: DevRequest) -> DevResponse:
        provider, account = _account_of(request)
        if provider is not None:
            mode = self.modes.mode_for(provider, account)
            if mode == "down":
                return unavailable(provider)
            if mode == "slow":
                time.sleep(SLOW_SECONDS)
        route = self._routes.get((request.method, request.path))
        if route is None and self.twilio.matches(request):
            route = self.twilio.create_message
        if route is None and self.twilio.matches_account(request):
            route = self.twilio.fetch_account
        if route is None:
            route = next(
                (
                    r
                    for method, prefix, suffix, r in self._prefix_routes
                    if request.method == method
                    and request.path.startswith(prefix)
                    and request.path.endswith(suffix)
                ),
                None,
            )
        if route is None:
            return DevResponse(404, {"errors": [{"message": "not found", "field": None}]})
        if self._latency_seconds:
            time.sleep(self._latency_seconds)
        return route(request)


def _account_of(request: DevRequest) -> tuple[str | None, str]:
    """The provider a request is for and the account it names, as a mode is set for them."""
    path = request.path
    if path == "/v3/mail/send":
        return "sendgrid", request.headers.get("authorization", "").removeprefix("Bearer ")
    if path == ses.SEND_PATH:
        return "ses", ses.account_of(request)
    if path.startswith(f"/{twilio_api.API_VERSION}/Accounts/"):
        return "twilio", path.split("/")[3].removesuffix(".json")
    if path.startswith(fcm.SEND_PATH_PREFIX) and path.endswith(fcm.SEND_PATH_SUFFIX):
        return "fcm", path.removeprefix(fcm.SEND_PATH_PREFIX).removesuffix(fcm.SEND_PATH_SUFFIX)
    if path.startswith(web_push.PATH_PREFIX):
        return "web_push", web_push.vapid_key_of(request)
    return None, ""
