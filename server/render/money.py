"""JSON shapes of the money API: amounts as decimal strings with currency and scale."""

from __future__ import annotations

from typing import Any

from server.donations.summary import ClickView, CreatorSummary, DonorSummary
from server.escrow.escrow import Claim, Waiting
from server.models import Payout
from server.money.amounts import amount_json
from server.settings import Settings


def render_click(settings: Settings, click: ClickView) -> dict[str, Any]:
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


def render_budget(settings: Settings, donor: DonorSummary) -> dict[str, Any]:
    return {
        "monthly_budget": amount_json(donor.settings.monthly_budget, settings),
        "paused": donor.settings.paused,
        "anonymous": donor.settings.anonymous,
        "limits": {
            "min": amount_json(settings.budget_min, settings),
            "max": amount_json(settings.budget_max, settings),
        },
    }


def render_me(settings: Settings, donor: DonorSummary, creator: CreatorSummary) -> dict[str, Any]:
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


def render_waiting(settings: Settings, waiting: Waiting) -> dict[str, Any]:
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


def render_claim(settings: Settings, claim: Claim, available: int) -> dict[str, Any]:
    return {
        "outcome": "already_claimed" if claim.already_claimed and not claim.moved else "claimed",
        "identity_id": str(claim.identity.id),
        "moved": amount_json(claim.moved, settings),
        "available": amount_json(available, settings),
    }


def render_account_claim(settings: Settings, claim: Claim, available: int) -> dict[str, Any]:
    """A claimed fediverse account: the claim, and which identity it was."""
    identity = claim.identity
    return {
        **render_claim(settings, claim, available),
        "network": identity.network,
        "external_id": identity.external_id,
        "handle": identity.handle,
        "profile_url": identity.profile_url,
    }
