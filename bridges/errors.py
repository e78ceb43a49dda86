"""The bridges library's own errors: what went wrong with a network, typed so the server can
decide what to do (wait, ask the donor to sign in again, stop, retry later)."""

from __future__ import annotations


class BridgeError(Exception):
    """Base class: every error a network module raises is one of these."""


class RateLimited(BridgeError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds to wait before the next request


class BudgetSpent(RateLimited):
    """A budget of requests is spent (the instance's monthly budget of a pay-per-read
    network, X's own cap, YouTube's daily quota): nothing more is asked until `retry_after`,
    and the message says so in words a donor can read."""


class TokenExpired(BridgeError):
    """The access token expired: refresh it (if a refresh token exists) and try again."""


class TokenRevoked(BridgeError):
    """The donor (or the network) revoked access: the donor must connect again."""


class NetworkDown(BridgeError):
    """The network did not answer, or answered 5xx: try again later."""


class BadPayload(BridgeError):
    """The network answered something we cannot use (not JSON, wrong shape, too large,
    a cursor that goes backwards, items without authors)."""


class NotConfigured(BridgeError):
    """The admin has not configured this network (client id, secret)."""


class ConnectFailed(BridgeError):
    """Connecting did not finish: a refused authorization, a wrong state, a missing proof."""


class UnexpectedStatus(BadPayload):
    """The network answered an HTTP status the call does not expect (a 400 from a token
    endpoint, a 404 for a deleted repository): `status` says which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BlockedAddress(BridgeError):
    """An address we refuse to call: not https, or a host that resolves to a private,
    loopback, link-local or reserved address (unless the network config allows it)."""


class ImportRefused(BridgeError):
    """A data-export upload we will not read: the wrong file, another network's export, an
    HTML download, a damaged or hostile zip (too large, a bomb, unsafe member names), text
    that is not UTF-8. The message says what was expected, in words a donor can act on."""
