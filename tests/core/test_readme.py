"""Generated Markdown blocks: found by their markers, replaced whole, and a clear error without them."""

from __future__ import annotations

import pytest

from core.readme import MarkerError, block, markers, replace_block, split_block

TEXT = "intro\n<!-- t:begin -->\nold\n<!-- t:end -->\noutro\n"


def test_split_and_block_find_the_named_block_only():
    assert markers("t") == ("<!-- t:begin -->", "<!-- t:end -->")
    assert split_block(TEXT, "t") == ("intro\n", "\nold\n", "\noutro\n")
    assert block(TEXT, "t") == "<!-- t:begin -->\nold\n<!-- t:end -->"
    with pytest.raises(MarkerError, match="<!-- other:begin -->"):
        block(TEXT, "other")


def test_replace_keeps_the_text_around_the_block():
    new = "<!-- t:begin -->\nnew\n<!-- t:end -->"
    assert replace_block(TEXT, "t", new) == "intro\n" + new + "\noutro\n"


@pytest.mark.parametrize("text", ["<!-- t:begin --> no end", "<!-- t:end --> then <!-- t:begin -->", "neither"])
def test_missing_or_reversed_markers_are_an_error(text):
    with pytest.raises(MarkerError, match="markers"):
        split_block(text, "t")
