"""Where valuelens keeps what it caches: one folder, movable with `VALUELENS_CACHE_DIR`.

The shared store of answers (`cache.sqlite`), the downloaded VIA release (`via/`) and the
parsed copies of VIA files (`via/parsed/`) all live under `cache_dir()`, so a user (or a test)
who moves the folder moves all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "VALUELENS_CACHE_DIR"
"""The environment variable that moves the cache folder."""


def cache_dir() -> Path:
    """The cache folder: `$VALUELENS_CACHE_DIR`, else the user cache folder (it may not exist)."""
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # only when the folder is not configured

    return Path(platformdirs.user_cache_dir("valuelens"))
