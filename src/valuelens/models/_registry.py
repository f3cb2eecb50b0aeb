"""Which backend a model spec's kind names (`openai` in `openai:gpt-4o-mini`), imported only when used.

A registration names its factory by import path (`"package.module:Factory"`), so registering
costs nothing: the module (and the SDK it needs) loads when a spec of that kind is first built.
Adding a provider is one module plus one `register_backend` line, here or in the caller's code.
Other packages can add kinds through the `valuelens.backends` entry-point group: each entry
point is named after its kind and refers to a `BackendRegistration`; the group is read only
when a spec's kind is not registered already.

Example:
    >>> register_backend(
    ...     "vllm", "my_plugin.backend:VllmBackend", base_url=True, pool=True,
    ...     help="vllm:MODEL --base-url URL",
    ... )
    >>> backend = load_backend("vllm:qwen2.5-7b", base_urls=["http://gpu1:8000/v1"])
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from valuelens._errors import ValuelensError
from valuelens.models._base import Backend

ENTRY_POINT_GROUP = "valuelens.backends"
_KIND = re.compile(r"^[a-z][a-z0-9_-]*$")

BackendFactory = Callable[..., Backend]
"""Called as `factory(model, **options)`, plus `base_url=` for kinds that take one."""


@dataclass(frozen=True)
class BackendRegistration:
    """How to build the backends of one spec kind.

    Attributes:
        kind: the part of the spec before the first colon (lower case).
        factory: `"package.module:Name"` (imported on first use) or the callable itself.
        base_url: the factory takes `base_url=` (`--base-url`); None is passed when none is given.
        pool: several base URLs make one `PooledBackend` over a backend per URL.
        model_required: a spec of this kind must name a model (`kind:MODEL`); when False, a
            bare `kind` passes `None` as the model.
        help: how to write a spec of this kind, for error messages (e.g. `openai:MODEL`).
    """

    kind: str
    factory: str | BackendFactory
    base_url: bool = False
    pool: bool = False
    model_required: bool = True
    help: str = ""

    @property
    def usage(self) -> str:
        """The help text, or `kind:MODEL` when none was given."""
        return self.help or f"{self.kind}:MODEL"

    def load_factory(self) -> BackendFactory:
        """The factory, importing its module if it is named by path.

        Raises:
            ValuelensError: the module or the name cannot be imported.
        """
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            found: object = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as error:
            raise ValuelensError(
                f"the {self.kind!r} backend cannot be loaded from {self.factory}: {error}"
            ) from None
        if not callable(found):
            raise ValuelensError(f"the {self.kind!r} backend {self.factory} is not callable")
        factory: BackendFactory = found
        return factory


_REGISTRY: dict[str, BackendRegistration] = {}


def register_backend(
    kind: str,
    factory: str | BackendFactory,
    *,
    base_url: bool = False,
    pool: bool = False,
    model_required: bool = True,
    help: str = "",
    replace: bool = False,
) -> BackendRegistration:
    """Make `kind:MODEL` specs build backends with `factory` (see `BackendRegistration`).

    Args:
        kind: the spec kind: lower-case letters, digits, `-` and `_`, starting with a letter.
        factory: `"package.module:Name"` (imported when first used) or a callable.
        base_url: the factory takes `base_url=`.
        pool: several base URLs pool one backend per URL (needs `base_url`).
        model_required: a spec must name a model.
        help: how to write such a spec, for error messages.
        replace: allow replacing an existing registration of `kind`.

    Returns:
        The registration.

    Raises:
        ValueError: a malformed kind or factory path, `pool` without `base_url`, or a kind
            that is registered already (without `replace`).

    Example:
        >>> register_backend("vllm", "my_plugin.backend:VllmBackend", base_url=True, pool=True)
    """
    registration = BackendRegistration(kind, factory, base_url, pool, model_required, help)
    _check(registration)
    if kind in _REGISTRY and not replace:
        raise ValueError(f"backend kind {kind!r} is registered already")
    _REGISTRY[kind] = registration
    return registration


def _check(registration: BackendRegistration) -> None:
    if not _KIND.match(registration.kind):
        raise ValueError(f"backend kind {registration.kind!r} must match {_KIND.pattern}")
    if isinstance(registration.factory, str) and not re.match(
        r"^[\w.]+:[\w.]+$", registration.factory
    ):
        raise ValueError(f"backend factory {registration.factory!r} must be 'module:Name'")
    if registration.pool and not registration.base_url:
        raise ValueError(f"backend kind {registration.kind!r} pools base URLs it does not take")


def registered_backends() -> list[BackendRegistration]:
    """The registrations made in this process so far, in the order they were made."""
    return list(_REGISTRY.values())


def find_backend(kind: str, spec: str) -> BackendRegistration:
    """The registration of `kind`, looking in the `valuelens.backends` entry points if needed.

    Raises:
        ValuelensError: no registration for `kind`; the one line lists the registered kinds
            and suggests the closest one.
    """
    registration = _REGISTRY.get(kind) or _from_entry_point(kind)
    if registration is not None:
        return registration
    message = f"unknown model spec {spec!r}; {spec_help()}"
    close = difflib.get_close_matches(kind, [*_REGISTRY, *_plugin_kinds()], n=1)
    if close:
        _, colon, model = spec.strip().partition(":")
        message += f"; did you mean {close[0]}{colon}{model}?"
    raise ValuelensError(message)


def spec_help() -> str:
    """How to write a model spec, for messages and `--model` help: every kind on offer."""
    usages = [r.usage for r in _REGISTRY.values()]
    usages += [f"{name}:MODEL" for name in _plugin_kinds() if name not in _REGISTRY]
    if len(usages) == 1:
        return f"use {usages[0]}"
    return f"use {', '.join(usages[:-1])} or {usages[-1]}"


def _plugin_kinds() -> list[str]:
    """The kinds other packages offer (reading their metadata, importing none of them)."""
    return sorted({point.name.lower() for point in entry_points(group=ENTRY_POINT_GROUP)})


def _from_entry_point(kind: str) -> BackendRegistration | None:
    """Load and register the entry point named `kind`, if a package offers one."""
    points = [p for p in entry_points(group=ENTRY_POINT_GROUP) if p.name.lower() == kind]
    if not points:
        return None
    point = points[0]
    try:
        found = point.load()
    except (ImportError, AttributeError) as error:
        raise ValuelensError(
            f"the {kind!r} backend cannot be loaded from {point.value}: {error}"
        ) from None
    if not isinstance(found, BackendRegistration):
        raise ValuelensError(
            f"entry point {point.value} in {ENTRY_POINT_GROUP} is not a BackendRegistration"
        )
    registration = BackendRegistration(
        kind, found.factory, found.base_url, found.pool, found.model_required, found.help
    )
    try:
        _check(registration)
    except ValueError as error:
        raise ValuelensError(f"entry point {point.value}: {error}") from None
    _REGISTRY[kind] = registration
    return registration


# The built-in kinds. A new provider: one module in this package and one line here.
register_backend(
    "embedded",
    "valuelens.models._embedded:EmbeddedBackend",
    model_required=False,
    help="embedded, embedded:/path/model.gguf",
)
register_backend(
    "openai",
    "valuelens.models._openai:OpenAIBackend",
    base_url=True,
    pool=True,
    help="openai:MODEL [--base-url URL]",
)
register_backend(
    "anthropic",
    "valuelens.models._anthropic:AnthropicBackend",
    base_url=True,
    pool=True,
    help="anthropic:MODEL",
)
