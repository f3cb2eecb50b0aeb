"""Model backends behind one small async interface.

Example:
    >>> from valuelens.models import Message, Request, load_backend
    >>> backend = load_backend("embedded")
    >>> request = Request(messages=(Message("user", "Say hi"),), max_tokens=8)
    >>> response = await backend.complete(request)
"""

from valuelens.models._anthropic import AnthropicBackend
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
from valuelens.models._embedded import EmbeddedBackend, default_model_path
from valuelens.models._openai import OpenAIBackend
from valuelens.models._pool import PooledBackend
from valuelens.models._spec import load_backend

__all__ = [
    "AnthropicBackend",
    "Backend",
    "BackendError",
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
]
