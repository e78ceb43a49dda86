"""Claims that travel: one instance tells a peer that a creator of its own has claimed an
identity (on the fediverse, Bluesky, …), how it verified that, and the peer answers.

Wire format
-----------
Between instance actors, HTTP-signed in transit and carrying the same FEP-8b32
`eddsa-jcs-2022` proof as settlement documents (`<actor>#ed25519-key`)::

    {"@context": CLAIMS_CONTEXT,
     "id": "<stable per claim and recipient>", "type": "Add" | "Remove",
     "actor": "<sender instance actor>", "to": ["<recipient instance actor>"],
     "published": "2026-12-06T10:00:00Z",
     "object": {"type": "likewise:IdentityClaim", "claimant": "<creator's actor URI>",
                "network": "bluesky", "externalId": "did:plc:…", "handle": "@a.bsky.social",
                "method": "rel-me" | "oauth" | "proof-code" | "home-instance"},
     "proof": {…}}

`Add` announces the claim, `Remove` withdraws it. The answer is an `Accept` (object:
the announcement's id, `result`: `{"type": "likewise:ClaimAnswer", "status":
"accepted"}`) or a `Reject` (status `contested` or `refused`, with a `summary`).
The id is stable for one (claim, recipient): a replay names the same claim and
changes nothing. Unknown keys are refused at every level.

Trust (`check_claim_origin`): the claimant is an actor on the sender's own origin; a
fediverse identity on that origin is claimed by `home-instance`, one on any other origin
only by a proof method (`rel-me`, `oauth`, `proof-code`).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from activitypub.builders import format_datetime
from activitypub.errors import SettlementError
from activitypub.jsonld import ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT
from activitypub.origin import origin_of, same_origin
from activitypub.settlement.wire import (
    LIKEWISE_NAMESPACE,
    Envelope,
    envelope_fields,
    require_datetime,
    require_key,
    require_object,
    require_text,
    require_uri,
)

CLAIM_TERMS: dict[str, object] = {
    "likewise": LIKEWISE_NAMESPACE,
    "claimant": {"@id": "likewise:claimant", "@type": "@id"},
    "network": "likewise:network",
    "externalId": "likewise:externalId",
    "handle": "likewise:handle",
    "method": "likewise:method",
    "status": "likewise:status",
    "summary": "as:summary",
}
CLAIMS_CONTEXT: list[object] = [ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT, CLAIM_TERMS]
CLAIM_TYPE = "likewise:IdentityClaim"
ANSWER_TYPE = "likewise:ClaimAnswer"
FEDIVERSE = "fediverse"
ACTIVITY_KEYS = frozenset({"@context", "id", "type", "actor", "to", "published", "object", "proof"})
ANSWER_KEYS = ACTIVITY_KEYS | {"result"}
CLAIM_KEYS = frozenset({"type", "claimant", "network", "externalId", "handle", "method"})
RESULT_KEYS = frozenset({"type", "status", "summary"})
NETWORK = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_EXTERNAL_ID = 2048
MAX_HANDLE = 255


class ClaimMethod(StrEnum):
    """How the sender verified that its creator owns the identity."""

    REL_ME = "rel-me"  # links both ways (fediverse profiles)
    OAUTH = "oauth"  # signed in with the network, which named the identity
    PROOF_CODE = "proof-code"  # a code the creator placed in a profile or a post
    HOME_INSTANCE = "home-instance"  # the identity is an actor of the sender itself


class ClaimStatus(StrEnum):
    ACCEPTED = "accepted"  # recorded; what waits for the identity goes to the sender
    CONTESTED = "contested"  # someone else claims it too: held until an admin decides
    REFUSED = "refused"  # not a claim this receiver takes (trust rules, not a peer)


@dataclass(frozen=True)
class IdentityClaim:
    """`claimant` (an actor of the sender) owns `external_id` on `network`."""

    claimant: str
    network: str
    external_id: str
    handle: str
    method: ClaimMethod

    def __post_init__(self) -> None:
        require_uri(self.claimant, "object.claimant")
        if not isinstance(self.network, str) or not NETWORK.fullmatch(self.network):
            raise SettlementError("object.network must be a lowercase network name")
        _external_id(self.external_id)
        if not isinstance(self.handle, str) or len(self.handle) > MAX_HANDLE:
            raise SettlementError(f"object.handle must be a string of at most {MAX_HANDLE}")
        if any(ord(char) < 32 for char in self.handle):
            raise SettlementError("object.handle contains control characters")
        if self.network == FEDIVERSE:
            require_uri(self.external_id, "object.externalId")

    @property
    def key(self) -> str:
        """Names the claim, whoever it is sent to (hex, 32 characters)."""
        text = "\0".join((self.network, self.external_id, self.claimant))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ClaimAnnouncement(Envelope):
    """`Add` (the claim holds) or, with `withdrawn`, `Remove` (it no longer does)."""

    claim: IdentityClaim
    withdrawn: bool = False


@dataclass(frozen=True)
class ClaimAnswer(Envelope):
    """The receiver's answer to an announcement (`announcement_id`)."""

    announcement_id: str
    status: ClaimStatus
    summary: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.announcement_id, "object")
        if self.summary:
            require_text(self.summary, "result.summary")


ClaimDocument = ClaimAnnouncement | ClaimAnswer


def _external_id(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_EXTERNAL_ID:
        raise SettlementError(f"object.externalId must be 1 to {MAX_EXTERNAL_ID} characters")
    if any(ord(char) < 33 for char in value):
        raise SettlementError("object.externalId contains spaces or control characters")
    return value


def announcement_id(base_url: str, claim: IdentityClaim, recipient: str) -> str:
    """The stable id of the announcement of `claim` to `recipient` (from `base_url`)."""
    digest = hashlib.sha256(f"{claim.key}\0{recipient}".encode()).hexdigest()[:32]
    return f"{base_url}/claims/{digest}"


def check_claim_origin(announcement: ClaimAnnouncement) -> None:
    """The trust rules a receiver applies before it records anything; `SettlementError`
    says which one fails. A peer speaks only for actors on its own origin, vouches by
    itself only for its own fediverse actors, and proves any other fediverse actor."""
    claim = announcement.claim
    if not same_origin(claim.claimant, announcement.actor):
        raise SettlementError("the claimant is not an actor of the announcing instance")
    if claim.network != FEDIVERSE:
        if claim.method is ClaimMethod.HOME_INSTANCE:
            raise SettlementError(f"a {claim.network} identity is not the instance's own")
        return
    if origin_of(claim.external_id) is None:
        raise SettlementError("a fediverse identity is an http(s) actor URI")
    home = same_origin(claim.external_id, announcement.actor)
    if home and claim.method is not ClaimMethod.HOME_INSTANCE:
        raise SettlementError("an actor of the announcing instance is claimed by home-instance")
    if not home and claim.method is ClaimMethod.HOME_INSTANCE:
        raise SettlementError("home-instance covers only the announcing instance's own actors")


# --- building -----------------------------------------------------------------------------


def _envelope_json(envelope: Envelope, activity_type: str) -> dict[str, object]:
    return {
        "@context": copy.deepcopy(CLAIMS_CONTEXT),
        "id": envelope.id,
        "type": activity_type,
        "actor": envelope.actor,
        "to": [envelope.recipient],
        "published": format_datetime(envelope.published),
    }


def build_announcement(announcement: ClaimAnnouncement) -> dict[str, object]:
    """The unsigned JSON of an announcement (sign it with `sign_document`)."""
    claim = announcement.claim
    document = _envelope_json(announcement, "Remove" if announcement.withdrawn else "Add")
    document["object"] = {
        "type": CLAIM_TYPE,
        "claimant": claim.claimant,
        "network": claim.network,
        "externalId": claim.external_id,
        "handle": claim.handle,
        "method": claim.method.value,
    }
    return document


def build_answer(answer: ClaimAnswer) -> dict[str, object]:
    accepted = answer.status is ClaimStatus.ACCEPTED
    document = _envelope_json(answer, "Accept" if accepted else "Reject")
    document["object"] = answer.announcement_id
    result: dict[str, object] = {"type": ANSWER_TYPE, "status": answer.status.value}
    if answer.summary:
        result["summary"] = answer.summary
    document["result"] = result
    return document


# --- parsing ------------------------------------------------------------------------------


def is_claim_document(data: object) -> bool:
    """Whether an inbox body is a claim document (by its exact context)."""
    return isinstance(data, Mapping) and data.get("@context") == CLAIMS_CONTEXT


def _envelope(document: Mapping[str, object]) -> Envelope:
    recipients = require_key(document, "to", "document")
    items = recipients if isinstance(recipients, list) else [recipients]
    if len(items) != 1:
        raise SettlementError("to must name exactly one recipient instance actor")
    return Envelope(
        id=require_uri(require_key(document, "id", "document"), "id"),
        actor=require_uri(require_key(document, "actor", "document"), "actor"),
        recipient=require_uri(items[0], "to"),
        published=require_datetime(require_key(document, "published", "document"), "published"),
    )


def _method(value: object) -> ClaimMethod:
    for method in ClaimMethod:
        if method.value == value:
            return method
    raise SettlementError(f"object.method must be one of {', '.join(m.value for m in ClaimMethod)}")


def _status(value: object) -> ClaimStatus:
    for status in ClaimStatus:
        if status.value == value:
            return status
    raise SettlementError(f"result.status must be one of {', '.join(s.value for s in ClaimStatus)}")


def _claim(value: object) -> IdentityClaim:
    data = require_object(value, "object", CLAIM_KEYS)
    if require_key(data, "type", "object") != CLAIM_TYPE:
        raise SettlementError(f"object.type must be {CLAIM_TYPE}")
    handle = data.get("handle", "")
    return IdentityClaim(
        claimant=require_uri(require_key(data, "claimant", "object"), "object.claimant"),
        network=str(require_key(data, "network", "object")),
        external_id=_external_id(require_key(data, "externalId", "object")),
        handle=handle if isinstance(handle, str) else "\0",
        method=_method(require_key(data, "method", "object")),
    )


def parse_claim_document(data: object) -> ClaimDocument:
    """An announcement or an answer; `SettlementError` for anything else."""
    kind = data.get("type") if isinstance(data, Mapping) else None
    allowed = ACTIVITY_KEYS if kind in ("Add", "Remove") else ANSWER_KEYS
    document = require_object(data, "document", allowed)
    if require_key(document, "@context", "document") != CLAIMS_CONTEXT:
        raise SettlementError("@context is not the Likewise claims context")
    envelope = _envelope(document)
    fields = envelope_fields(envelope)
    if kind in ("Add", "Remove"):
        claim = _claim(require_key(document, "object", "document"))
        return ClaimAnnouncement(**fields, claim=claim, withdrawn=kind == "Remove")
    if kind not in ("Accept", "Reject"):
        raise SettlementError("type must be Add, Remove, Accept or Reject")
    result = require_object(require_key(document, "result", "document"), "result", RESULT_KEYS)
    if result.get("type") != ANSWER_TYPE:
        raise SettlementError(f"result.type must be {ANSWER_TYPE}")
    status = _status(require_key(result, "status", "result"))
    if (kind == "Accept") != (status is ClaimStatus.ACCEPTED):
        raise SettlementError("an Accept answers accepted, a Reject contested or refused")
    summary = result.get("summary", "")
    return ClaimAnswer(
        **fields,
        announcement_id=require_uri(require_key(document, "object", "document"), "object"),
        status=status,
        summary=summary if isinstance(summary, str) else "\0",
    )
