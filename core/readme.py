"""Generated blocks in a Markdown file such as the README: ``<!-- NAME:begin -->`` ... ``<!-- NAME:end -->``.

Each block is written by one command from the data it shows (``python -m train.results`` the results from the
manifest, ``python -m train.catalog`` the recipe table from :data:`train.recipes.RECIPES`) and a test compares it with
what that command would write now, so the prose around it is the only hand-written part.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.fileio import atomic_write_text


class MarkerError(ValueError):
    """A file without the begin and end markers of the block asked for (in that order)."""


def markers(name: str) -> tuple[str, str]:
    """The begin and end marker lines of the block ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def split_block(text: str, name: str) -> tuple[str, str, str]:
    """(text before the block, the body between its markers, text after it); MarkerError when the markers are missing
    or out of order."""
    begin, end = markers(name)
    head, found, rest = text.partition(begin)
    body, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise MarkerError(f"no '{begin}' ... '{end}' markers")
    return head, body, tail


def block(text: str, name: str) -> str:
    """The block ``name`` as it stands in ``text``, markers included."""
    begin, end = markers(name)
    return begin + split_block(text, name)[1] + end


def replace_block(text: str, name: str, new_block: str) -> str:
    """``text`` with the block ``name`` (markers included) replaced by ``new_block`` (markers included)."""
    head, _, tail = split_block(text, name)
    return head + new_block + tail


def write_block(path: Path, name: str, new_block: str) -> None:
    """Replace the block ``name`` of the file at ``path`` with ``new_block`` (markers included), atomically; OSError
    or MarkerError, with the file untouched, when it cannot be read or lacks the markers."""
    atomic_write_text(path, replace_block(Path(path).read_text(encoding="utf-8"), name, new_block))


def update_file(path: Path, name: str, new_block: str) -> int:
    """What a ``--readme`` command does last: :func:`write_block`, then ``updated <path>`` on stdout and exit code 0,
    or the reason on stderr, naming the file, and exit code 2."""
    try:
        write_block(path, name, new_block)
    except (OSError, MarkerError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    print(f"updated {path}")
    return 0
