"""Model backends behind one small async interface."""

from valuelens.models._base import (
    Backend,
    Capabilities,
    FinishReason,
    Message,
    Request,
    Response,
    TokenLogprob,
    Usage,
)

__all__ = [
    "Backend",
    "Capabilities",
    "FinishReason",
    "Message",
    "Request",
    "Response",
    "TokenLogprob",
    "Usage",
]
