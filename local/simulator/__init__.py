"""Provider simulator: SendGrid, FCM (with Google's OAuth token endpoint) and Web Push, each a
sibling module; more providers follow the same way.

One HTTP server (`server.ProviderSimulator`) routes each provider's API paths to that
provider's module; every provider records what it accepts in the shared `Outbox` and calls
Herald back through the shared `CallbackDispatcher`, signed the way the real provider signs.
"""

from local.simulator.outbox import Outbox
from local.simulator.server import ProviderSimulator

__all__ = ["Outbox", "ProviderSimulator"]
