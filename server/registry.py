"""The explicit table of job kinds and their handlers (no import-order magic)."""

from __future__ import annotations

from server.connections.polling import (
    POLL_JOB,
    SWEEP_JOB,
    handle_poll,
    handle_sweep,
    sweep_interval,
)
from server.donations.admin_runs import RUN_JOB, handle_run
from server.donations.housekeeping import (
    HOUSEKEEPING_JOB,
    handle_housekeeping,
    housekeeping_interval,
)
from server.escrow.announcements import handle_claims_send
from server.escrow.notices import CREATOR_NOTICES_JOB, handle_creator_notices
from server.escrow.peer_claims import CLAIMS_SEND_JOB
from server.federation.delivery import DELIVERY_JOB, handle_delivery
from server.federation.inbox import PROCESS_JOB
from server.federation.processing import handle_inbox_process
from server.imports.parsing import handle_parse as handle_import_parse
from server.imports.uploads import PARSE_JOB as IMPORT_PARSE_JOB
from server.jobs.handler import Handler, Scheduled
from server.settlement.documents import SEND_JOB
from server.settlement.exchange import handle_prepare, handle_send
from server.settlement.peering import PREPARE_JOB


def job_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        PROCESS_JOB: handle_inbox_process,
        DELIVERY_JOB: handle_delivery,
        SEND_JOB: handle_send,
        PREPARE_JOB: handle_prepare,
        CREATOR_NOTICES_JOB: handle_creator_notices,
        CLAIMS_SEND_JOB: handle_claims_send,
        HOUSEKEEPING_JOB: Scheduled(handle_housekeeping, housekeeping_interval),
        POLL_JOB: handle_poll,
        SWEEP_JOB: Scheduled(handle_sweep, sweep_interval),
        IMPORT_PARSE_JOB: handle_import_parse,
        RUN_JOB: handle_run,
    }
    return handlers
