"""Reading text-based files with errors that name the file and the line."""

from __future__ import annotations

import json
import os


def read_text(path: str) -> str:
    """The file's text; FileNotFoundError naming the path when it is missing."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        return f.read()


def parse_json(path: str, text: str):
    """json.loads with a ValueError naming the file, line and column of a syntax error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}, line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}") from None


def read_json(path: str):
    """Parsed JSON of a file; see `read_text` and `parse_json` for the errors."""
    return parse_json(path, read_text(path))


def is_float(token: str) -> bool:
    """Whether `token` parses as a float (used to point at the first bad token of a line)."""
    try:
        float(token)
        return True
    except ValueError:
        return False
