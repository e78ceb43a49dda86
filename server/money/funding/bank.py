"""Bank transfers: each donor has a personal payment reference, an ISO 11649 (RF) creditor
reference with its check digits; a credit on the instance's account whose reference names
a donor is booked to that donor's wallet, once per bank entry (its AcctSvcrRef, else its
NtryRef), so overlapping statements book each entry once."""

from __future__ import annotations

import re

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from server.money.funding.base import FundingProvider

BODY_PREFIX = "LW"  # RF<check><LW><account id>
CANDIDATE = re.compile(r"RF[0-9]{2}[A-Z0-9 ]{3,40}")


class BankProvider(FundingProvider):
    name = "bank"


BANK = BankProvider()


def bank_reference(account_id: int) -> str:
    """The donor's RF reference, printed in groups of four (`RF71 LW42`)."""
    body = f"{BODY_PREFIX}{account_id}"
    check = mod_97_10.calc_check_digits(body + "RF")
    return str(iso11649.format(f"RF{check}{body}"))


def donor_of_reference(text: str) -> int | None:
    """The account id a payment's reference names, when it holds one of our RF references
    with valid check digits (spaces allowed, as people type them); None otherwise."""
    for found in CANDIDATE.finditer(text.upper()):
        words = found.group().split()
        for count in range(len(words), 0, -1):  # the longest run of whole words first
            candidate = "".join(words[:count])
            body = candidate[4:]
            if re.fullmatch(BODY_PREFIX + r"[1-9][0-9]{0,17}", body) and iso11649.is_valid(
                candidate
            ):
                return int(body[len(BODY_PREFIX) :])
    return None


def payment_id(iban: str, entry_ref: str) -> str:
    """What the bank provider books a statement entry under: the account and its entry."""
    return f"{iban}:{entry_ref}"
