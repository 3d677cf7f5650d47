"""Commands in the first lines of a reply, as Request Tracker's command-by-mail reads them:

    Status: solved
    Assign: ngi-de

    The disk was replaced.

Leading lines `Key: value` with a known key (any case) are commands, blank lines before them are
allowed, and reading stops at the first line that is not one; an unknown key stays in the text.
"""

from __future__ import annotations

import re

KNOWN_KEYS = ("Status", "Assign", "Priority")
_COMMAND = re.compile(
    r"^[ \t]*(" + "|".join(KNOWN_KEYS) + r")[ \t]*:[ \t]*(\S.*?)[ \t]*$", re.IGNORECASE
)
_CANONICAL = {key.lower(): key for key in KNOWN_KEYS}


def split_commands(text: str) -> tuple[list[tuple[str, str]], str]:
    """The leading commands, in order, as (`Status`|`Assign`|`Priority`, value), and the rest of
    the text, stripped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    commands: list[tuple[str, str]] = []
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines):
        match = _COMMAND.match(lines[index])
        if match is None:
            break
        commands.append((_CANONICAL[match.group(1).lower()], match.group(2)))
        index += 1
    if not commands:
        return [], text.strip()
    return commands, "\n".join(lines[index:]).strip()
