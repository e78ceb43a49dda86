"""What the donor's money page says about the coming close, in plain words: the day the
open month closes, what leaves the wallet then and among how many likes, how many months
the wallet covers at the budget, and a warning when it will not cover the next close. Pure
arithmetic on what the summary read (server/donations/summary.py); no database."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from server.money.amounts import format_money
from server.settings import Settings

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Standing:
    """The donor's money as the page reads it now."""

    period: str  # the open period, "2026-12"
    wallet: int
    budget: int  # the monthly budget chosen
    paused: bool
    likes: int  # this period's counted likes
    unspent_to: str = ""  # who gets the budget of a month without likes, or ""


@dataclass(frozen=True)
class Outlook:
    close_on: date  # the period's last day: it closes at its end (midnight UTC)
    leaves: int  # what the close takes from the wallet, as things stand
    sentence: str
    months_covered: int | None  # whole months at the budget; None when no budget is taken
    covered: str  # the months covered, in words
    warning: str  # "" when the wallet covers the next close


def close_day(period: str) -> date:
    """The last day of a period ("2026-12" → 31 Dec 2026): the close runs when it ends."""
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, calendar.monthrange(year, month)[1])


def day_words(day: date, today: date) -> str:
    """ "on 31 Dec", or "tonight (31 Dec)" on the day itself."""
    short = f"{day.day} {MONTHS[day.month - 1]}"
    return f"tonight ({short})" if day == today else f"on {short}"


def what_leaves(standing: Standing) -> int:
    """The close's rule (server/donations/close.py): min(budget, wallet), nothing when
    paused, nothing in a month without likes unless LIKEWISE_UNSPENT_TO takes it."""
    if standing.paused or not (standing.likes or standing.unspent_to):
        return 0
    return max(0, min(standing.budget, standing.wallet))


def outlook(standing: Standing, settings: Settings, today: date) -> Outlook:
    close_on = close_day(standing.period)
    leaves = what_leaves(standing)
    taken = 0 if standing.paused else standing.budget
    months = standing.wallet // taken if taken > 0 else None
    return Outlook(
        close_on,
        leaves,
        _sentence(standing, settings, day_words(close_on, today), leaves),
        months,
        _covered(standing, settings, months),
        _warning(standing, settings, day_words(close_on, today)),
    )


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def _likes(count: int) -> str:
    return "your one like" if count == 1 else f"your {count} likes"


def _sentence(standing: Standing, settings: Settings, on: str, leaves: int) -> str:
    def money(value: int) -> str:
        return format_money(value, settings)

    if standing.paused:
        return f"Your likes are paused: nothing leaves your wallet {on}."
    if standing.budget <= 0:
        return f"Your monthly budget is {money(0)}: nothing leaves your wallet {on}."
    if standing.likes and not leaves:
        return (
            f"{_first_up(on)} nothing can leave your wallet: it is empty, so "
            f"{_likes(standing.likes)} get nothing unless you add money first."
        )
    short = (
        f" (all your wallet holds, less than your {money(standing.budget)} budget)"
        if leaves < standing.budget
        else ""
    )
    if standing.likes:
        split = "all for your one like" if standing.likes == 1 else "split among"
        among = "" if standing.likes == 1 else f" {_likes(standing.likes)}"
        return f"{_first_up(on)}, {money(leaves)} leaves your wallet{short}, {split}{among}."
    if leaves:
        return (
            f"{_first_up(on)}, {money(leaves)} leaves your wallet{short} for "
            f"@{standing.unspent_to}, as you liked nothing this month; like something to "
            "choose where it goes, or pause to keep it."
        )
    return (
        f"No likes yet this month: if you like nothing, nothing leaves your wallet {on}. "
        f"Like things and your {money(standing.budget)} budget is split among them."
    )


def _covered(standing: Standing, settings: Settings, months: int | None) -> str:
    if months is None:
        return "Paused: no budget is taken." if standing.paused else "No budget is taken."
    budget = format_money(standing.budget, settings)
    if months == 0:
        return f"Your wallet does not cover a whole month at {budget} a month."
    unit = "month" if months == 1 else "months"
    return f"Your wallet covers {months} {unit} at {budget} a month."


def _warning(standing: Standing, settings: Settings, on: str) -> str:
    if standing.paused or standing.budget <= 0 or standing.wallet >= standing.budget:
        return ""
    budget = format_money(standing.budget, settings)
    if standing.wallet <= 0:
        return f"Your wallet is empty: the close {on} cannot give your {budget} budget. Add money."
    missing = format_money(standing.budget - standing.wallet, settings)
    return (
        f"Your wallet will not cover the close {on}: it holds "
        f"{format_money(standing.wallet, settings)} of your {budget} budget. "
        f"Add {missing} or more to give all of it."
    )
