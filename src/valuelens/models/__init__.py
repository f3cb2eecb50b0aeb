"""Model backends behind one small async interface.

Example:
    >>> from valuelens.models import Message, Request, load_backend
    >>> backend = load_backend("embedded")
    >>> request = Request(messages=(Message("user", "Say hi"),), max_tokens=8)
    >>> response = await backend.complete(request)

A backend's module (and the SDK it needs) is imported on first use (PEP 562): the classes
below are looked up lazily, and `load_backend` imports only the kind a spec names. A new kind
is one `register_backend` line (see `valuelens.models._registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from valuelens._lazy import lazy_exports
from valuelens.models._base import (
    Backend,
    BackendError,
    Capabilities,
    FinishReason,
    Message,
    Request,
    Response,
    TokenLogprob,
    Usage,
)
from valuelens.models._pool import PooledBackend
from valuelens.models._registry import (
    BackendRegistration,
    register_backend,
    registered_backends,
    spec_help,
)
from valuelens.models._spec import load_backend

if TYPE_CHECKING:
    from valuelens.models._anthropic import AnthropicBackend
    from valuelens.models._embedded import EmbeddedBackend, default_model_path
    from valuelens.models._openai import OpenAIBackend

__all__ = [
    "AnthropicBackend",
    "Backend",
    "BackendError",
    "BackendRegistration",
    "Capabilities",
    "EmbeddedBackend",
    "FinishReason",
    "Message",
    "OpenAIBackend",
    "PooledBackend",
    "Request",
    "Response",
    "TokenLogprob",
    "Usage",
    "default_model_path",
    "load_backend",
    "register_backend",
    "registered_backends",
    "spec_help",
]

# Public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "AnthropicBackend": "valuelens.models._anthropic",
    "EmbeddedBackend": "valuelens.models._embedded",
    "OpenAIBackend": "valuelens.models._openai",
    "default_model_path": "valuelens.models._embedded",
}


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any attribute otherwise
    __getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
