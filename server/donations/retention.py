"""How long finished job rows stay, and which dedupe keys may go with their rows.

A job's dedupe key lives in its row: once the row is deleted, the same key can be
enqueued again. So a row with a key goes only when nothing enqueues that key any more,
or when something else keeps the guarantee. Every other key stays, including any family
added later, until it is listed here with its reason.

May go, once old:
- a scheduled kind's slot key `housekeeping:{secs}s:{start}` (server/jobs/schedule.py):
  the worker enqueues it only during its slot, and rows stay at least one slot long.
- `inbox.process:{slice}`: its slice has ended before the job runs; new keys name the
  coming slice.
- `notices.creators:{slot}` or `…:prepare:{job id}`: asked for once by that housekeeping
  slot or settlement preparation, neither of which runs again once finished; a second run
  would send nothing twice anyway (one creator_notice row per creator and month).
- `creator-notice:{month}:{creator}`: one delivery to a creator in a month; the
  creator_notice row written with it keeps that guarantee, and the running month's keys
  stay too.

Stay:
- `settlement.prepare:{period}`: a closed period's shares are offered to peers once, when
  its close finishes; the row says it was done (twelve a year).
- `money-waiting:{domain}`: the row is the only record that an instance was told money
  waits for its creators (tell_waiting_instances looks the key up); one per instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from server.donations.periods import period_of
from server.escrow.notices import CREATOR_NOTICES_JOB
from server.federation.inbox import PROCESS_JOB
from server.jobs.pruning import Retention
from server.settings import Settings

CREATOR_NOTICE_KEYS = "creator-notice:"  # server.escrow.notices.delivery_key


def job_retention(
    settings: Settings, scheduled: Mapping[str, timedelta], now: datetime
) -> Retention:
    """`scheduled`: the kinds the worker enqueues once a slot, with their slot lengths (a
    slot's row stays at least as long as its slot, whatever the settings say)."""
    longest = max(scheduled.values(), default=timedelta(0))
    return Retention(
        done=max(timedelta(days=settings.job_days), longest),
        failed=max(timedelta(days=settings.failed_job_days), longest),
        keys=(
            *(f"{kind}:" for kind in scheduled),
            f"{PROCESS_JOB}:",
            f"{CREATOR_NOTICES_JOB}:",
            CREATOR_NOTICE_KEYS,
        ),
        kept=(f"{CREATOR_NOTICE_KEYS}{period_of(now)}:",),
    )
