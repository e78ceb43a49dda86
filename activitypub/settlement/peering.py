"""Peering agreements, negotiated as in FEP-0837: `Offer`, then `Accept` or `Reject`.

The acceptance repeats the agreed terms, so the signed `Accept` alone proves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from activitypub.errors import SettlementError
from activitypub.settlement.amounts import CURRENCY_PATTERN, Amount, Sign, check_sign, parse_amount
from activitypub.settlement.wire import (
    DocumentType,
    Envelope,
    check_answers,
    envelope_fields,
    envelope_json,
    optional_text,
    parse_envelope,
    rejection_json,
    require_key,
    require_reason,
    require_reference,
    require_text,
    require_typed,
    require_uri,
)

AGREEMENT_KEYS = frozenset({"currency", "creditLimit"})
REFUSAL_KEYS = frozenset({"reason", "summary"})


class PeeringRefusalReason(StrEnum):
    DECLINED = "declined"
    WRONG_CURRENCY = "wrong_currency"
    CREDIT_LIMIT_TOO_HIGH = "credit_limit_too_high"
    NOT_ACCEPTING_PEERS = "not_accepting_peers"


def _check_terms(currency: str, credit_limit: Amount) -> None:
    if not isinstance(currency, str) or not CURRENCY_PATTERN.fullmatch(currency):
        raise SettlementError("currency must be three capital letters (ISO 4217)")
    check_sign(credit_limit, Sign.NON_NEGATIVE, "creditLimit")
    if credit_limit.currency != currency:
        raise SettlementError("creditLimit must be in the agreement's currency")


@dataclass(frozen=True)
class PeeringProposal(Envelope):
    """The proposer (`actor`) offers to settle in `currency`, owing at most `credit_limit`."""

    currency: str
    credit_limit: Amount

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_terms(self.currency, self.credit_limit)


@dataclass(frozen=True)
class PeeringAcceptance(Envelope):
    proposal_id: str
    currency: str
    credit_limit: Amount

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.proposal_id, "object")
        _check_terms(self.currency, self.credit_limit)


@dataclass(frozen=True)
class PeeringRejection(Envelope):
    proposal_id: str
    reason: PeeringRefusalReason
    summary: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.proposal_id, "object")
        require_reason(self.reason, "result.reason", PeeringRefusalReason)
        if self.summary is not None:
            require_text(self.summary, "result.summary")


def accept_peering(envelope: Envelope, proposal: PeeringProposal) -> PeeringAcceptance:
    """Accept `proposal` on exactly its terms."""
    check_answers(envelope, proposal, "peering proposal")
    return PeeringAcceptance(
        **envelope_fields(envelope),
        proposal_id=proposal.id,
        currency=proposal.currency,
        credit_limit=proposal.credit_limit,
    )


def check_peering_acceptance(proposal: PeeringProposal, acceptance: PeeringAcceptance) -> None:
    """Refuse an acceptance that answers another proposal or changes its terms."""
    if acceptance.proposal_id != proposal.id:
        raise SettlementError("acceptance answers another proposal")
    check_answers(acceptance, proposal, "peering proposal")
    if (acceptance.currency, acceptance.credit_limit) != (proposal.currency, proposal.credit_limit):
        raise SettlementError("acceptance changes the proposed terms")


def _agreement_json(currency: str, credit_limit: Amount) -> dict[str, object]:
    return {
        "type": DocumentType.PEERING_AGREEMENT.value,
        "currency": currency,
        "creditLimit": credit_limit.to_json(),
    }


def build_peering_proposal(proposal: PeeringProposal) -> dict[str, object]:
    document = envelope_json(proposal, "Offer")
    document["object"] = _agreement_json(proposal.currency, proposal.credit_limit)
    return document


def build_peering_acceptance(acceptance: PeeringAcceptance) -> dict[str, object]:
    document = envelope_json(acceptance, "Accept")
    document["object"] = acceptance.proposal_id
    document["result"] = _agreement_json(acceptance.currency, acceptance.credit_limit)
    return document


def build_peering_rejection(rejection: PeeringRejection) -> dict[str, object]:
    return rejection_json(
        rejection,
        rejection.proposal_id,
        DocumentType.PEERING_REFUSAL,
        rejection.reason,
        rejection.summary,
    )


def _terms(agreement: Mapping[str, object], name: str) -> tuple[str, Amount]:
    currency = require_key(agreement, "currency", name)
    if not isinstance(currency, str):
        raise SettlementError(f"{name}.currency must be a string")
    limit = parse_amount(
        require_key(agreement, "creditLimit", name), f"{name}.creditLimit", Sign.NON_NEGATIVE
    )
    return currency, limit


def parse_peering_proposal(data: object) -> PeeringProposal:
    envelope, document = parse_envelope(data, "Offer")
    agreement = require_typed(document, "object", DocumentType.PEERING_AGREEMENT, AGREEMENT_KEYS)
    currency, limit = _terms(agreement, "object")
    return PeeringProposal(**envelope_fields(envelope), currency=currency, credit_limit=limit)


def parse_peering_acceptance(data: object) -> PeeringAcceptance:
    envelope, document = parse_envelope(data, "Accept")
    agreement = require_typed(document, "result", DocumentType.PEERING_AGREEMENT, AGREEMENT_KEYS)
    currency, limit = _terms(agreement, "result")
    return PeeringAcceptance(
        **envelope_fields(envelope),
        proposal_id=require_reference(document),
        currency=currency,
        credit_limit=limit,
    )


def parse_peering_rejection(data: object) -> PeeringRejection:
    envelope, document = parse_envelope(data, "Reject")
    result = require_typed(document, "result", DocumentType.PEERING_REFUSAL, REFUSAL_KEYS)
    return PeeringRejection(
        **envelope_fields(envelope),
        proposal_id=require_reference(document),
        reason=require_reason(
            require_key(result, "reason", "result"), "result.reason", PeeringRefusalReason
        ),
        summary=optional_text(result, "summary", "result"),
    )
