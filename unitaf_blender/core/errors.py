"""Error text helpers shared by every layer (no imports beyond the standard library)."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, else its class name (for one-line
    logs and status bars; user-facing errors that carry instructions are printed in full)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def full_message(exc: BaseException) -> str:
    """The whole message (user errors may carry instructions on later lines), else the class name."""
    return str(exc).strip() or type(exc).__name__
