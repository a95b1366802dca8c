"""``new()`` and ``from_url()``: thin dispatchers over the store classes.

Cloud backends are imported only when asked for, so ``import objectstorex`` needs no SDK.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any
from urllib.parse import unquote, urlsplit

from ._store import BaseStore
from .errors import InvalidConfigError

__all__ = ["new", "from_url", "store_class"]

# provider name -> (module, class, pip extra)
_PROVIDERS: dict[str, tuple[str, str, str | None]] = {
    "memory": ("objectstorex.backends.memory", "MemoryStore", None),
    "local": ("objectstorex.backends.local", "LocalStore", None),
    "s3": ("objectstorex.backends.s3", "S3Store", "s3"),
    "azure": ("objectstorex.backends.azure", "AzureStore", "azure"),
    "gcs": ("objectstorex.backends.gcs", "GCSStore", "gcs"),
}

#: URL scheme -> provider name (the command line reads it too).
URL_SCHEMES = {
    "memory": "memory",
    "file": "local",
    "s3": "s3",
    "s3a": "s3",
    "az": "azure",
    "azure": "azure",
    "abfs": "azure",
    "gs": "gcs",
    "gcs": "gcs",
}

# The option that names the bucket/container in a cloud URL's host part.
_BUCKET_OPTION = {"s3": "bucket", "azure": "container", "gcs": "bucket"}


def store_class(provider: str) -> type[BaseStore]:
    """Return the store class of ``provider``, importing its backend on demand.

    Raises:
        InvalidConfigError: unknown provider, or its SDK extra is not installed.
    """
    try:
        module_name, class_name, extra = _PROVIDERS[provider]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_PROVIDERS))
        raise InvalidConfigError(f"unknown provider {provider!r} (known: {known})") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        hint = f": pip install 'objectstorex[{extra}]'" if extra else ""
        raise InvalidConfigError(f"the {provider} provider is not available ({e.name or e}){hint}") from e
    cls: type[BaseStore] = getattr(module, class_name)
    return cls


def _check_options(cls: type[BaseStore], provider: str, options: dict[str, Any]) -> None:
    params = {n: p for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for name in options:
        if name not in params or params[name].kind is inspect.Parameter.VAR_POSITIONAL:
            accepted = ", ".join(sorted(params)) or "none"
            raise InvalidConfigError(f"unknown option {name!r} for the {provider} store (accepted: {accepted})")
    for name, p in params.items():
        if (
            p.default is inspect.Parameter.empty
            and p.kind is not inspect.Parameter.VAR_POSITIONAL
            and name not in options
        ):
            raise InvalidConfigError(f"missing option {name!r} for the {provider} store")


def new(provider: str, **options: Any) -> BaseStore:
    """Create a store for ``provider`` with its options.

    Example::

        store = osx.new("local", path="data/objects")

    Args:
        provider: ``"memory"``, ``"local"``, ``"s3"``, ``"azure"`` or ``"gcs"``.
        **options: the provider's options (see ``docs/configuration.md``).

    Raises:
        InvalidConfigError: unknown provider, unknown or missing option.
    """
    cls = store_class(provider)
    _check_options(cls, provider, options)
    return cls(**options)


def from_url(url: str, **options: Any) -> BaseStore:
    """Create a store from a URL.

    ``memory://``, ``file:///abs/dir``, ``s3://bucket/prefix``, ``az://container/prefix``
    (account in ``options``) and ``gs://bucket/prefix``. With a prefix, every location is
    relative to it.

    Raises:
        InvalidConfigError: unknown scheme, malformed URL, or bad options.
    """
    if not isinstance(url, str):
        raise InvalidConfigError(f"url must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    provider = URL_SCHEMES.get(parts.scheme.lower())
    if provider is None:
        raise InvalidConfigError(
            f"unsupported URL scheme {parts.scheme!r} in {url!r} (known: {', '.join(sorted(URL_SCHEMES))})"
        )
    if provider == "memory":
        return new("memory", **options)
    if provider == "local":
        if parts.netloc not in ("", "localhost"):
            raise InvalidConfigError(f"file URLs must be file:///absolute/path, got {url!r}")
        path = unquote(parts.path)
        if not path:
            raise InvalidConfigError(f"file URL {url!r} has no path")
        return new("local", path=path, **options)
    bucket = unquote(parts.netloc)
    if not bucket:
        raise InvalidConfigError(f"URL {url!r} names no bucket/container")
    prefix = unquote(parts.path).strip("/")
    opts = {_BUCKET_OPTION[provider]: bucket, **options}
    if prefix:
        opts["prefix"] = prefix
    return new(provider, **opts)
