"""Text as people paste it: what no one sees is no part of a value they meant to type."""

import unicodedata

# Unicode's category of characters that are never drawn and only steer layout: soft hyphens, zero-width spaces and
# joiners, word joiners, direction marks, byte order marks.
_FORMAT = "Cf"


def without_format_characters(text: str) -> str:
    """`text` without Unicode's format characters, which copying from a web page, a word processor or a spreadsheet
    brings in: `in\\u00adfo` is `info`."""
    if text.isascii():
        return text
    return "".join(char for char in text if unicodedata.category(char) != _FORMAT)
