"""Commands in the first lines of a reply (RT command-by-mail style)."""

from __future__ import annotations

import pytest

from adapters.email.commands import split_commands


@pytest.mark.parametrize(
    ("text", "commands", "rest"),
    [
        (
            "Status: solved\n\nThe disk was replaced.",
            [("Status", "solved")],
            "The disk was replaced.",
        ),
        (
            "\n\nstatus: Solved\nASSIGN:  ngi-de \nPriority: urgent\nDone.",
            [("Status", "Solved"), ("Assign", "ngi-de"), ("Priority", "urgent")],
            "Done.",
        ),
        (
            "Status: solved\r\nAssign: x\r\n\r\ntext",
            [("Status", "solved"), ("Assign", "x")],
            "text",
        ),
        ("Status: solved", [("Status", "solved")], ""),
        ("Foo: bar\nStatus: solved\ntext", [], "Foo: bar\nStatus: solved\ntext"),
        ("Status: solved\nFoo: bar\ntext", [("Status", "solved")], "Foo: bar\ntext"),
        ("Status:\ntext", [], "Status:\ntext"),
        ("Hello\nStatus: solved", [], "Hello\nStatus: solved"),
        ("Status: solved\n\nAssign: x", [("Status", "solved")], "Assign: x"),
        ("  Status :  in progress  \nx", [("Status", "in progress")], "x"),
        ("", [], ""),
        ("  \n just text \n", [], "just text"),
    ],
)
def test_split_commands(text: str, commands: list[tuple[str, str]], rest: str) -> None:
    assert split_commands(text) == (commands, rest)
