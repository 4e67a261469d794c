"""Exit codes, and the error the CLI prints as one line with exit code 2 (bad input)."""
EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(ValueError):
    """The user's input is wrong; the message is printed as one line and the exit code is 2."""
