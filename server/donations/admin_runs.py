"""The settlement round run from the admin's pages: the month close, the SEPA export of
approved payouts and the confirmation of an exported batch, each as one job of the worker
calling the function its command calls (`likewise period close`, `likewise payouts
export`, `likewise payouts confirm`).

A form carries a key made when it was shown, and the job is enqueued under it: a double
submit or a resent POST finds the job already there and starts nothing. The functions
themselves are idempotent (the close resumes by its stage, the export writes its batch's
id on the job in the same transaction, a confirmed payout is not booked again), so a job
the worker runs again after a crash does what is left, once. Progress is read from the
rows the close writes, as the command's progress bar counts them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import NotFound, ServiceError, ValidationFailed
from server.donations.close import close_period
from server.donations.periods import parse_period, period_of, previous_period
from server.jobs.handler import GiveUp, JobContext
from server.jobs.queue import ClaimedJob, enqueue
from server.models import DonorPeriod, Job, Payout, PayoutBatch, Period
from server.models.base import utcnow
from server.models.clicks import DonorStage
from server.models.payouts import PayoutState
from server.money.forms import checked_form_key
from server.money.payouts import Debtor, clean_bic, clean_iban, confirm_batch, export_batch
from server.settings import Settings

RUN_JOB = "admin_run"
ACTIONS = {"close": "Month close", "export": "SEPA export", "confirm": "Payout confirmation"}


@dataclass(frozen=True)
class RunForm:
    """A run's form as sent; which fields count depends on the action."""

    action: str
    form_key: str
    period: str = ""  # close: YYYY-MM, blank for last month
    force: bool = False  # close: the running month, early
    debtor_name: str = ""  # export: the instance's account the batch is paid from
    debtor_iban: str = ""
    debtor_bic: str = ""
    batch_id: int = 0  # confirm


@dataclass(frozen=True)
class CloseProgress:
    period: str
    stage: str  # open, closing or closed
    donors: int
    done: int
    spent: int
    fees: int


@dataclass(frozen=True)
class RunStatus:
    id: int
    action: str
    title: str
    state: str  # the job's: queued, running, done or failed
    error: str  # why it failed, in words for the admin ("" when it did not)
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]
    close: CloseProgress | None = None
    batch: PayoutBatch | None = None
    payouts: int = 0  # in the batch


def _debtor(form: RunForm) -> Debtor:
    name = " ".join(form.debtor_name.split())
    if not name or len(name) > 70:
        raise ValidationFailed("give the paying account holder's name", field="debtor_name")
    try:
        iban = clean_iban(form.debtor_iban)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="debtor_iban") from exc
    try:
        bic = clean_bic(form.debtor_bic)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="debtor_bic") from exc
    if not bic:  # a SEPA credit transfer file names the paying bank (pain.001.001.03)
        raise ValidationFailed("give the paying account's BIC", field="debtor_bic")
    return Debtor(name, iban, bic)


async def _payload(session: AsyncSession, settings: Settings, form: RunForm) -> dict[str, Any]:
    """What the job needs, checked now so that the admin reads a refusal on the form."""
    if form.action == "close":
        period = form.period.strip() or previous_period(period_of(utcnow()))
        period = parse_period(period)
        if period >= period_of(utcnow()) and not form.force:
            raise ValidationFailed(
                f"the month {period} is still running: tick 'close early' to close it now",
                field="period",
            )
        return {"period": period, "force": form.force}
    if form.action == "export":
        if settings.currency != "EUR":
            raise ValidationFailed("SEPA transfers are in EUR; this instance uses another")
        debtor = _debtor(form)
        approved = await session.exec(
            select(func.count()).where(col(Payout.state) == PayoutState.approved.value)
        )
        if not approved.one():
            raise NotFound("there are no approved payouts to export")
        return {"name": debtor.name, "iban": debtor.iban, "bic": debtor.bic}
    if form.action == "confirm":
        if await session.get(PayoutBatch, form.batch_id) is None:
            raise NotFound(f"no payout batch {form.batch_id}")
        return {"batch_id": form.batch_id}
    raise NotFound(f"no run {form.action!r}")


async def start_run(db: Database, settings: Settings, admin_id: int, form: RunForm) -> int:
    """Enqueue the run once per form; returns its job's id (the first one's on a resend)."""
    key = f"{RUN_JOB}:{checked_form_key(form.form_key)}"
    async with db.transaction() as session:
        payload = await _payload(session, settings, form)
        payload.update(action=form.action, admin_id=admin_id)
        job = await enqueue(session, RUN_JOB, payload, dedupe_key=key, max_attempts=3)
        if job is not None:
            return int(job.id or 0)
        found = (await session.exec(select(Job.id).where(Job.dedupe_key == key))).one()
        return int(found or 0)


async def _export(db: Database, settings: Settings, job: ClaimedJob) -> None:
    if job.payload.get("batch_id"):
        return  # exported before the worker stopped: the batch is on the job
    payload = job.payload
    async with db.transaction() as session:
        debtor = Debtor(str(payload["name"]), str(payload["iban"]), str(payload["bic"]))
        batch = await export_batch(session, settings, debtor)
        done = {**payload, "batch_id": batch.id}
        await session.exec(
            update(Job)
            .where(col(Job.id) == job.id)
            .values(payload=json.dumps(done, separators=(",", ":")))
        )


async def handle_run(context: JobContext, job: ClaimedJob) -> None:
    db, settings, payload = context.db, context.settings, job.payload
    try:
        if payload["action"] == "close":
            await close_period(db, settings, str(payload["period"]), force=bool(payload["force"]))
        elif payload["action"] == "export":
            await _export(db, settings, job)
        else:
            async with db.transaction() as session:
                await confirm_batch(session, settings, int(payload["batch_id"]))
    except ServiceError as exc:  # a rule refused it: running it again would not help
        raise GiveUp(exc.message) from exc


async def _close_progress(session: AsyncSession, period: str) -> CloseProgress:
    stage = (await session.exec(select(Period.stage).where(Period.id == period))).first()
    totals = await session.exec(
        select(
            func.count(),
            func.count().filter(col(DonorPeriod.stage) == DonorStage.done.value),
            func.coalesce(func.sum(DonorPeriod.budget), 0),
            func.coalesce(func.sum(DonorPeriod.fee), 0),
        ).where(DonorPeriod.period == period)
    )
    donors, done, spent, fees = totals.one()
    return CloseProgress(
        period, str(stage or "open"), int(donors), int(done), int(spent), int(fees)
    )


def _error(job: Job) -> str:
    if not job.last_error:
        return ""
    if job.last_error.startswith("Traceback"):  # not a rule's refusal: kept for the log
        return "something went wrong on our side; the worker tries again"
    return job.last_error


async def run_status(db: Database, job_id: int) -> RunStatus:
    async with db.session() as session:
        job = await session.get(Job, job_id)
        if job is None or job.kind != RUN_JOB:
            raise NotFound(f"no run {job_id}")
        payload: dict[str, Any] = json.loads(job.payload)
        action = str(payload.get("action", ""))
        close = batch = None
        payouts = 0
        if action == "close":
            close = await _close_progress(session, str(payload["period"]))
        elif payload.get("batch_id"):
            batch = await session.get(PayoutBatch, int(payload["batch_id"]))
            counted = await session.exec(
                select(func.count()).where(col(Payout.batch_id) == int(payload["batch_id"]))
            )
            payouts = int(counted.one())
    return RunStatus(
        id=job_id,
        action=action,
        title=ACTIONS.get(action, action),
        state=str(job.state),
        error=_error(job),
        created_at=job.created_at,
        finished_at=job.finished_at,
        payload=payload,
        close=close,
        batch=batch,
        payouts=payouts,
    )


async def batch_document(db: Database, batch_id: int) -> PayoutBatch:
    async with db.session() as session:
        batch = await session.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound(f"no payout batch {batch_id}")
    return batch
