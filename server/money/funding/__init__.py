"""Money coming in: one provider per module behind `base.FundingProvider` (`manual`, an
admin's form or command; `bank`, credits read from bank statements); `credit_wallet` books
a `Funding` once per (provider, payment id)."""

from __future__ import annotations

from server.money.funding.base import Credited, Funding, FundingProvider, credit_wallet

__all__ = ["Credited", "Funding", "FundingProvider", "credit_wallet"]
