"""Command-line parameters parsed by the same rules as the web's: ids are ASCII digits
within a database id's range (click's INT takes "١٢" and any size)."""

from __future__ import annotations

import click

from server.domain_errors import ValidationFailed
from server.money.amounts import parse_id


class RowId(click.ParamType[int, object]):
    name = "id"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        try:
            return parse_id(value, field=param.human_readable_name if param else "id")
        except ValidationFailed as error:
            self.fail(error.message, param, ctx)


ROW_ID = RowId()
