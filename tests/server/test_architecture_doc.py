"""docs/architecture.md's table of states is server/states.py's state machines, written out:
a machine changed without the document fails here, with the table to paste."""

from __future__ import annotations

from pathlib import Path

from server.states import MACHINES

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
BEGIN = "<!-- states:begin"
END = "<!-- states:end -->"


def states_table() -> str:
    rows = [
        "| column | enum | a new row starts | moves (from → to) | final |",
        "|---|---|---|---|---|",
    ]
    for machine in MACHINES.values():
        order = list(machine.states)
        moves = "; ".join(
            f"{state.value} → {', '.join(to.value for to in order if to in targets)}"
            for state in order
            if (targets := machine.moves[state])
        )
        final = ", ".join(state.value for state in order if not machine.moves[state])
        starts = ", ".join(state.value for state in order if state in machine.initial)
        rows.append(
            f"| `{machine.table}.{machine.column}` | `{machine.states.__name__}` | {starts} "
            f"| {moves or '(none)'} | {final or '(none)'} |"
        )
    return "\n".join(rows)


def test_the_architecture_document_lists_every_state_machine_as_declared() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, "docs/architecture.md lost its states markers"
    block = text.split(BEGIN, 1)[1].split("-->", 1)[1].split(END, 1)[0].strip()
    expected = states_table()
    assert block == expected, f"docs/architecture.md's states table should read:\n{expected}"
