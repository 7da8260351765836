"""Where shared state lives in Redis (`--redis redis://...`): key namespaces derived from the store, and the
connection checked once with a clear message. Used by the shared crawl frontier and the shared LSH index."""
from __future__ import annotations

import hashlib
import os
from typing import Any
from urllib.parse import unquote, urlsplit


def store_location(db: str) -> str:
    """What identifies a store for every process using it: a SQLite file's real path, or a database URL
    without its credentials (`postgresql://user:pw@host/db` and `postgresql://host/db` are one store)."""
    if "://" not in db:
        return "sqlite:" + os.path.realpath(db)
    parts = urlsplit(db)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def store_namespace(db: str) -> str:
    """The Redis key prefix of everything shared by the processes working on this store."""
    return "newsdedupe:" + hashlib.sha1(store_location(db).encode("utf-8")).hexdigest()[:12]


def redact(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}{f':{parts.port}' if parts.port else ''}"
        return parts._replace(netloc=netloc).geturl()
    return url


def check_redis(redis_url: str) -> None:
    """Fail early, naming the server, when Redis cannot be reached (ValueError: exit 1 with a message)."""
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"--redis {redact(redis_url)}: use a URL like redis://host:6379/0")
    try:
        import redis
    except ImportError:
        raise ValueError("--redis needs the redis extra: pip install 'newsdedupe[redis]'") from None
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as exc:
        raise ValueError(f"--redis {redact(redis_url)}: cannot reach Redis: {exc}") from None


def redis_params(redis_url: str) -> dict[str, Any]:
    """A redis:// URL as keyword arguments of `redis.Redis` (datasketch's storage config takes these)."""
    parts = urlsplit(redis_url)
    params: dict[str, Any] = {"host": parts.hostname or "localhost", "port": parts.port or 6379}
    db = parts.path.strip("/")
    params["db"] = int(db) if db.isdigit() else 0
    if parts.username:
        params["username"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        params["ssl"] = True
    return params
