"""server/states.py: every state column has a declared machine; `advance` and `moving`
allow exactly its moves; domain code changes states only through them."""

from __future__ import annotations

import ast
import enum
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Enum, column
from sqlmodel import SQLModel

import server.models  # noqa: F401  (fills SQLModel.metadata)
from server.domain_errors import Conflict
from server.models import (
    ConnectedAccount,
    DonorPeriod,
    EscrowLine,
    Follow,
    ImportBatch,
    InboxItem,
    Job,
    JobState,
    Payout,
    Peer,
    PeerClaim,
    PeerState,
    Period,
    Settlement,
    SettlementLineRow,
    SettlementPayment,
    SettlementState,
)
from server.models.money_in import BankCredit, BankImport
from server.models.notices import CreatorNotice
from server.models.payouts import PayoutState
from server.states import MACHINES, IllegalTransition, Machine, advance, moving, source_values

SERVER = Path(__file__).resolve().parents[2] / "server"
PAIRS = [
    (machine, current, to)
    for machine in MACHINES.values()
    for current in machine.states
    for to in machine.states
]
MODELS: list[type[SQLModel]] = [
    Job,
    InboxItem,
    Follow,
    Period,
    DonorPeriod,
    EscrowLine,
    CreatorNotice,
    Payout,
    Peer,
    Settlement,
    SettlementLineRow,
    SettlementPayment,
    ConnectedAccount,
    ImportBatch,
    BankImport,
    BankCredit,
    PeerClaim,
]


def _row(machine: Machine, state: enum.StrEnum) -> SimpleNamespace:
    return SimpleNamespace(id=7, **{machine.column: state.value})


def _name(pair: tuple[Machine, enum.StrEnum, enum.StrEnum]) -> str:
    machine, current, to = pair
    return f"{machine.table}:{current.value}->{to.value}"


def test_every_state_column_has_a_machine() -> None:
    """Each model's state column is typed by its machine's enum (stored as VARCHAR), and
    a new row's default state is one the machine starts rows in."""
    assert len(MACHINES) == len(MODELS)
    for model in MODELS:
        table = model.__table__  # type: ignore[attr-defined]
        machine = next(m for m in MACHINES.values() if m.table == table.name)
        state: Column[object] = table.c[machine.column]
        assert isinstance(state.type, Enum) and state.type.enum_class is machine.states
        assert state.type.native_enum is False and not state.nullable
        default = model.model_fields[machine.column].default
        assert default in machine.initial, model
        assert set(machine.moves) == set(machine.states)
        for targets in machine.moves.values():
            assert targets <= set(machine.states)


@pytest.mark.parametrize("pair", PAIRS, ids=[_name(p) for p in PAIRS])
def test_advance_allows_exactly_the_declared_moves(
    pair: tuple[Machine, enum.StrEnum, enum.StrEnum],
) -> None:
    machine, current, to = pair
    row = _row(machine, current)
    if to in machine.moves[current]:
        advance(row, to)
        assert getattr(row, machine.column) is to
        assert (
            str(moving(column(machine.column), current, to=to))
            == f"{machine.column} = :{machine.column}_1"
        )
        assert source_values(current, to=to) == (current.value,)
    else:
        with pytest.raises(IllegalTransition) as refused:
            advance(row, to)
        assert isinstance(refused.value, Conflict)
        assert f"is {current.value}; it cannot become {to.value}" in str(refused.value)
        assert getattr(row, machine.column) == current.value  # unchanged
        with pytest.raises(IllegalTransition):
            moving(column(machine.column), current, to=to)
        with pytest.raises(IllegalTransition):
            source_values(current, to=to)


def test_the_machines_read_as_the_code_moves_rows() -> None:
    """A few moves spelled out, so a table edited by mistake fails here too."""
    allowed = [
        (JobState.queued, JobState.running),
        (JobState.running, JobState.running),  # a lease that ran out is claimed again
        (JobState.running, JobState.queued),  # a retry
        (PayoutState.approved, PayoutState.rejected),
        (PeerState.ended, PeerState.active),  # a late acceptance of our proposal
        (SettlementState.paid, SettlementState.accepted),  # the payment was refused
    ]
    refused = [
        (JobState.done, JobState.queued),
        (JobState.queued, JobState.done),
        (PayoutState.paid, PayoutState.rejected),
        (PayoutState.requested, PayoutState.in_flight),
        (PeerState.active, PeerState.proposed),
        (SettlementState.confirmed, SettlementState.accepted),
    ]
    for current, to in allowed:
        assert MACHINES[type(to)].allows(current, to)
    for current, to in refused:
        assert not MACHINES[type(to)].allows(current, to)


@given(st.data())
def test_a_walk_of_any_moves_stays_on_the_machine(data: st.DataObject) -> None:
    machine = data.draw(st.sampled_from(list(MACHINES.values())))
    state = data.draw(st.sampled_from(sorted(machine.initial)))
    row = _row(machine, state)
    for to in data.draw(st.lists(st.sampled_from(list(machine.states)), max_size=12)):
        if machine.allows(state, to):
            advance(row, to)
            state = to
        else:
            with pytest.raises(IllegalTransition):
                advance(row, to)
        assert getattr(row, machine.column) == state


def test_a_bulk_move_names_where_it_moves_rows_from() -> None:
    with pytest.raises(ValueError, match="names the states"):
        moving(column("state"), to=JobState.running)
    where = moving(column("state"), JobState.queued, JobState.running, to=JobState.running)
    assert str(where) == "state IN (__[POSTCOMPILE_state_1])"


def _modules() -> list[tuple[Path, ast.Module]]:
    paths = sorted(p for p in SERVER.rglob("*.py") if p.name != "states.py")
    return [(path, ast.parse(path.read_text(), str(path))) for path in paths]


def _sets_state(target: ast.expr) -> bool:
    if isinstance(target, ast.Tuple):
        return any(_sets_state(element) for element in target.elts)
    return isinstance(target, ast.Attribute) and target.attr in ("state", "stage")


def test_domain_code_moves_a_row_only_through_advance() -> None:
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            if any(_sets_state(target) for target in targets):
                found.append(f"{path.relative_to(SERVER.parent)}:{getattr(node, 'lineno', 0)}")
    assert found == []


def _calls(node: ast.AST) -> set[str]:
    return {
        call.func.id
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
    }


def _bulk_state_updates(tree: ast.Module) -> list[tuple[ast.Call, set[str]]]:
    """`update(...)...values(state=...)` chains (or `values(**...)`), each with the
    names of the functions called in its WHERE conditions."""
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
        ):
            continue
        if not any(k.arg in ("state", "stage", None) for k in node.keywords):
            continue
        chain: ast.expr = node.func.value
        called: set[str] = set()
        is_update = False
        while isinstance(chain, ast.Call | ast.Attribute):
            if isinstance(chain, ast.Call):
                if isinstance(chain.func, ast.Attribute) and chain.func.attr == "where":
                    for argument in chain.args:
                        called |= _calls(argument)
                if isinstance(chain.func, ast.Name) and chain.func.id == "update":
                    is_update = True
                chain = chain.func
            else:
                chain = chain.value
        if is_update:
            found.append((node, called))
    return found


def test_every_bulk_update_of_a_state_selects_rows_the_machine_may_move() -> None:
    """A bulk UPDATE setting a state column selects its rows with `moving` (directly, or in
    a function of its module that calls it), which checks the move against the machine
    when the statement is built. SQL text that sets a state column names the rows' current
    state in its WHERE, bound from `source_values`, which checks the move the same way."""
    statements, astray = 0, []
    for path, tree in _modules():
        helpers = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "moving" in _calls(node)
        }
        for node, called in _bulk_state_updates(tree):
            statements += 1
            if not called & ({"moving"} | helpers):
                astray.append(f"{path.relative_to(SERVER.parent)}:{node.lineno}")
        for constant in ast.walk(tree):
            if not (isinstance(constant, ast.Constant) and isinstance(constant.value, str)):
                continue
            text = constant.value.upper()  # adjacent literals are one constant
            for name in ("STATE", "STAGE"):
                if f"SET {name} =" in text:
                    statements += 1
                    # The rows it moves are named by their state, bound by the caller.
                    where = text.partition(" WHERE ")[2]
                    if not re.search(rf"\b{name} = (\$\d+|\?)", where):
                        astray.append(f"{path.relative_to(SERVER.parent)}:{constant.lineno}")
    assert astray == []
    assert statements >= 12  # the queue's, the escrow's, the settlement's, the close's...
    users = [path.name for path, tree in _modules() if "source_values" in _calls(tree)]
    assert users == ["close.py"]  # binds the donor rows' source stage into that SQL
