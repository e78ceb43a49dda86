"""JSON shapes of the money API: amounts as decimal strings with currency and scale.

Render imports no domain package (a contract in pyproject.toml): what it renders is
described here as read-only protocols, which the domain's view objects
(server/donations/summary.py, server/escrow/escrow.py) satisfy. mypy checks that at the
routes that hand them over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from server.models import DonorPeriod, DonorSettings, Identity, Payout
from server.money.amounts import amount_json
from server.settings import Settings


class ClickShare(Protocol):
    """A click of this period, with the share its creator would get if it closed now."""

    @property
    def id(self) -> int: ...
    @property
    def uri(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def creator(self) -> str: ...
    @property
    def network(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def share(self) -> int: ...


class DonorView(Protocol):
    """A donor's wallet, budget, running period and past periods."""

    @property
    def wallet(self) -> int: ...
    @property
    def settings(self) -> DonorSettings: ...
    @property
    def period(self) -> str: ...
    @property
    def spendable(self) -> int: ...
    @property
    def fee(self) -> int: ...
    @property
    def clicks(self) -> Sequence[ClickShare]: ...
    @property
    def history(self) -> Sequence[DonorPeriod]: ...
    @property
    def unspent_to(self) -> str: ...


class CreatorBalances(Protocol):
    @property
    def available(self) -> int: ...
    @property
    def pending(self) -> int: ...


class WaitingView(Protocol):
    """Money held in escrow for a fediverse identity, and how many donors gave it."""

    @property
    def identity(self) -> Identity: ...
    @property
    def amount(self) -> int: ...
    @property
    def supporters(self) -> int: ...


class ClaimView(Protocol):
    """The outcome of claiming an identity: what moved from escrow to the account."""

    @property
    def identity(self) -> Identity: ...
    @property
    def moved(self) -> int: ...
    @property
    def already_claimed(self) -> bool: ...


def render_click(settings: Settings, click: ClickShare) -> dict[str, Any]:
    return {
        "id": str(click.id),
        "uri": click.uri,
        "title": click.title,
        "creator": click.creator,
        "network": click.network,
        "source": click.source,
        "projected_share": amount_json(click.share, settings),
    }


def render_payout(settings: Settings, payout: Payout) -> dict[str, Any]:
    return {
        "id": str(payout.id),
        "amount": amount_json(payout.amount, settings),
        "state": payout.state,
        "name": payout.name,
        "iban": payout.iban[:4] + "…" + payout.iban[-4:],
        "note": payout.note,
        "created_at": payout.created_at.isoformat(),
    }


def render_budget(settings: Settings, donor: DonorView) -> dict[str, Any]:
    return {
        "monthly_budget": amount_json(donor.settings.monthly_budget, settings),
        "paused": donor.settings.paused,
        "anonymous": donor.settings.anonymous,
        "limits": {
            "min": amount_json(settings.budget_min, settings),
            "max": amount_json(settings.budget_max, settings),
        },
    }


def render_me(settings: Settings, donor: DonorView, creator: CreatorBalances) -> dict[str, Any]:
    return {
        "wallet": amount_json(donor.wallet, settings),
        "budget": render_budget(settings, donor),
        "period": {
            "id": donor.period,
            "clicks": len(donor.clicks),
            "projected_spend": amount_json(donor.spendable, settings),
            "projected_fee": amount_json(donor.fee, settings),
            "unspent_to": donor.unspent_to or None,
        },
        "creator": {
            "available": amount_json(creator.available, settings),
            "pending": amount_json(creator.pending, settings),
        },
        "history": [
            {
                "period": row.period,
                "spent": amount_json(row.budget, settings),
                "fee": amount_json(row.fee, settings),
                "clicks": row.clicks,
            }
            for row in donor.history
        ],
    }


def render_waiting(settings: Settings, waiting: WaitingView) -> dict[str, Any]:
    identity = waiting.identity
    return {
        "identity_id": str(identity.id),
        "network": identity.network,
        "external_id": identity.external_id,
        "handle": identity.handle,
        "profile_url": identity.profile_url,
        "claimed": identity.claimed_account_id is not None,
        "waiting": amount_json(waiting.amount, settings),
        "supporters": waiting.supporters,
    }


def render_claim(settings: Settings, claim: ClaimView, available: int) -> dict[str, Any]:
    return {
        "outcome": "already_claimed" if claim.already_claimed and not claim.moved else "claimed",
        "identity_id": str(claim.identity.id),
        "moved": amount_json(claim.moved, settings),
        "available": amount_json(available, settings),
    }


def render_account_claim(settings: Settings, claim: ClaimView, available: int) -> dict[str, Any]:
    """A claimed fediverse account: the claim, and which identity it was."""
    identity = claim.identity
    return {
        **render_claim(settings, claim, available),
        "network": identity.network,
        "external_id": identity.external_id,
        "handle": identity.handle,
        "profile_url": identity.profile_url,
    }
