"""Errors that reach the user as one clear line."""

from __future__ import annotations


class ValuelensError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


class UnknownNameError(ValuelensError, KeyError):
    """A country, topic or value name that the taxonomy does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
