"""The public page a creator notice links to, read in a session of its own."""

from __future__ import annotations

from server.db.engine import Database
from server.escrow.notices import WaitingPage, waiting_page
from server.settings import Settings


async def waiting(db: Database, settings: Settings, token: str) -> WaitingPage:
    async with db.session() as session:
        return await waiting_page(session, settings, token)
