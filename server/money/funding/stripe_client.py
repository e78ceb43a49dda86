"""What every Stripe module shares: the provider, its errors, the fee, the library's client
over httpx, and reading the fields of a verified event (each refused as a 400 when it is
not what Stripe documents)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from server.domain_errors import Kind, NotFound, ServiceError, ValidationFailed
from server.money.amounts import format_money, parse_amount
from server.money.funding.base import FundingProvider
from server.settings import Settings, StripeConfig

STRIPE_ID = re.compile(r"[A-Za-z0-9_]{3,255}")


class StripeProvider(FundingProvider):
    name = "stripe"


STRIPE = StripeProvider()


class WebhookRefused(ServiceError):
    """A delivery that is not a signed, well-formed Stripe event for this instance: 400."""

    kind = Kind.bad_request
    code = "webhook_refused"


class StripeFailed(ServiceError):
    kind = Kind.upstream
    code = "stripe_failed"


class NotYet(ServiceError):
    """An event about a payment not credited yet (events come out of order): Stripe
    delivers it again later."""

    kind = Kind.unavailable
    code = "retry_later"


@dataclass(frozen=True)
class Quote:
    amount: int  # what reaches the wallet
    fee: int  # the processing fee on top
    total: int  # what the donor pays


def card_payments(settings: Settings) -> StripeConfig:
    config = settings.stripe
    if config is None:
        raise NotFound("this instance takes no card payments")
    return config


def fee_for(amount: int, config: StripeConfig) -> int:
    """fee_fixed plus fee_bps of the amount, rounded up to a whole minor unit."""
    return config.fee_fixed + -(-amount * config.fee_bps // 10_000)


def quote(text: str, settings: Settings) -> Quote:
    config = card_payments(settings)
    amount = parse_amount(text, settings)
    if not config.min_amount <= amount <= config.max_amount:
        low, high = (
            format_money(config.min_amount, settings),
            format_money(config.max_amount, settings),
        )
        raise ValidationFailed(f"the amount must be from {low} to {high}", field="amount")
    fee = fee_for(amount, config)
    return Quote(amount, fee, amount + fee)


class _HTTPX(stripe.HTTPXClient):
    """The library's httpx transport, sending the encoded form as `content`: httpx
    deprecates raw bytes as `data` (and warns on every request)."""

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]
        self, method: str, url: str, headers: Mapping[str, str], post_data
    ):
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        kwargs["content"] = kwargs.pop("data") or None
        return args, kwargs


def client_of(config: StripeConfig) -> tuple[stripe.StripeClient, stripe.HTTPXClient]:
    """The library's client over httpx, async; the caller closes the second."""
    http = _HTTPX(timeout=20)
    client = stripe.StripeClient(
        config.secret_key,
        http_client=http,
        base_addresses={"api": config.api_base},
        max_network_retries=1,
    )
    return client, http


def refusal(error: stripe.StripeError) -> str:
    """What Stripe said, in its words for people when it has them."""
    return error.user_message or str(error) or type(error).__name__


# Reading a verified event


def text_of(value: object, what: str) -> str:
    if not isinstance(value, str) or not STRIPE_ID.fullmatch(value):
        raise WebhookRefused(f"the event's {what} is missing or not a Stripe id")
    return value


def object_of(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise WebhookRefused("the event has no data.object")
    return found


def minor_of(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WebhookRefused(f"the event's {what} is not an amount in minor units")
    return value


def metadata_of(found: Mapping[str, Any]) -> dict[str, str]:
    """An object's metadata (Stripe's strings), {} when it has none."""
    metadata = found.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return {str(key): value for key, value in metadata.items() if isinstance(value, str)}
