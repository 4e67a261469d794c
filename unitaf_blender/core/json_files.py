"""Reading the JSON files users write (batch files, pose maps) with one kind of message."""
import json
import os


def read_json(path, what, error=ValueError):
    """The parsed contents of `path`; `error(message)` when it is missing or not JSON."""
    if not os.path.isfile(path):
        raise error(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not valid JSON ({e})") from None
