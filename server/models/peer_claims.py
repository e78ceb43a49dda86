"""Claims that travel between instances: a peer's creator claims an identity we hold money
for (incoming), or we told a peer that one of our creators claimed one (outgoing)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow
from server.models.settlement import Direction


class PeerClaimState(enum.StrEnum):
    announced = "announced"  # ours, sent, no answer yet
    accepted = "accepted"  # the claim holds: what waits for the identity goes to the peer
    contested = "contested"  # another claim of the identity exists: nothing moves
    refused = "refused"  # not taken (trust rules), or an admin decided against it
    withdrawn = "withdrawn"  # the claimant's instance took it back


class PeerClaim(SQLModel, table=True):
    """One claim of one identity by one actor, as one peer and this instance see it.
    `moves` counts the times its escrow moved (to the peer, or back): each move's
    transfers are keyed by it, so a claim accepted again after a contest moves again."""

    __tablename__ = "peer_claim"
    __table_args__ = (
        UniqueConstraint("direction", "peer_domain", "identity_id", "actor_uri"),
        CheckConstraint(in_enum("state", PeerClaimState), name="peer_claim_state_valid"),
        CheckConstraint(in_enum("direction", Direction), name="peer_claim_direction_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    direction: str = Field(max_length=3)  # Direction
    identity_id: int = Field(foreign_key="identity.id", index=True)
    peer_domain: str = Field(max_length=255)
    actor_uri: str = Field(max_length=2048)  # the claimant (ours when outgoing)
    method: str = Field(max_length=32)
    announcement_id: str = Field(max_length=2048)
    document: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    answer: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: PeerClaimState = Field(
        default=PeerClaimState.announced, sa_type=enum_type(PeerClaimState)
    )
    summary: str = Field(default="", max_length=500)
    moves: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
