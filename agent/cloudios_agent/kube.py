"""A minimal Kubernetes API client over httpx: paginated lists and resumable watches, projected as parsed.

A ``Reflector`` keeps one kind's objects current the way client-go's does: list (in pages), then
watch from the list's resourceVersion with bookmarks; a watch that ends is resumed from the last
version seen; 410 Gone, whether answered as the HTTP status or sent as an ERROR event inside the
stream, clears the version so the next round lists again. Every object is reduced by a projection
function the moment it is decoded; the raw object is never stored.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from cloudios_agent import __version__
from cloudios_agent.kubeconfig import ClusterConfig

T = TypeVar("T")
log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=10.0)
PAGE_LIMIT = 100
"""Objects per list page: bounds the raw JSON held at once (fourteen kinds list in parallel at start)."""
WATCH_SECONDS = 300
BACKOFF_BASE, BACKOFF_CAP = 1.0, 60.0
HTTP_OK, HTTP_GONE = 200, 410


class ApiError(Exception):
    """The API server answered an error (``status``: HTTP status or the Status object's code)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message[:300]}")
        self.status = status


class GoneError(ApiError):
    """410: the resourceVersion or continue token is too old; list again."""


@dataclass(frozen=True)
class Resource:
    """A collection to list and watch, e.g. ``Resource("deployments", "/apis/apps/v1/deployments")``."""

    name: str
    path: str


class KubeClient:
    """GET, list and watch against one API server; timeouts on every call."""

    def __init__(self, config: ClusterConfig, *, timeout: httpx.Timeout = TIMEOUT) -> None:
        self._client = httpx.Client(
            base_url=config.server,
            verify=config.tls,
            auth=config.auth,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": f"cloudios-agent/{__version__}"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def get_text(self, path: str, params: dict[str, str] | None = None) -> str:
        response = self._client.get(path, params=params)
        _raise_for_status(response.status_code, response.content)
        return response.content.decode()

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        return json.loads(self.get_text(path, params))

    def list(
        self, path: str, project: Callable[[dict[str, Any]], T | None], *, limit: int = PAGE_LIMIT
    ) -> tuple[dict[str, T], str]:
        """Every object of the collection, projected, keyed ``namespace/name``; and the list's version."""
        items: dict[str, T] = {}
        params = {"limit": str(limit)}
        while True:
            members: dict[str, Any] = {}
            for obj in scan_list(self.get_text(path, params), members):
                projected = project(obj) if isinstance(obj, dict) else None
                if projected is not None:
                    items[object_key(obj)] = projected
            meta = members.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, str(meta.get("resourceVersion") or "")
            params = {"limit": str(limit), "continue": str(token)}

    def watch(
        self, path: str, resource_version: str, *, seconds: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events ``(type, object)`` from ``resource_version`` until the server ends the watch."""
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(seconds),
        }
        timeout = httpx.Timeout(connect=10.0, read=seconds + 30.0, write=10.0, pool=10.0)
        with self._client.stream("GET", path, params=params, timeout=timeout) as response:
            if response.status_code != HTTP_OK:
                _raise_for_status(response.status_code, response.read())
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = str(event.get("type", "")), event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 500)
                    error = GoneError if code == HTTP_GONE else ApiError
                    raise error(code, str(obj.get("message") or obj.get("reason") or "watch error"))
                yield kind, obj


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def scan_list(text: str, members: dict[str, Any], key: str = "items") -> Iterator[Any]:
    """The elements of a JSON object's ``key`` array, decoded one at a time (the array is never built).

    A page of 100 pods decodes to megabytes of dicts; this way only one object is alive at
    a time, and its projection is all that stays. The object's other members land in ``members``.
    """
    scan = _Scanner(text)
    _, i = scan.expect(0, "{")
    if text[i : i + 1] == "}":
        return
    while True:
        name, i = _DECODER.raw_decode(text, i)
        _, i = scan.expect(i, ":")
        if name == key and text[i : i + 1] == "[":
            i = yield from scan.array(i)
        else:
            members[str(name)], i = _DECODER.raw_decode(text, i)
        sep, i = scan.expect(i, ",}")
        if sep == "}":
            return


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text

    def space(self, i: int) -> int:
        match = _SPACE.match(self.text, i)
        return match.end() if match else i

    def expect(self, i: int, chars: str) -> tuple[str, int]:
        i = self.space(i)
        if i >= len(self.text) or self.text[i] not in chars:
            raise ValueError(f"malformed JSON list at offset {i}")
        return self.text[i], self.space(i + 1)

    def array(self, i: int) -> Generator[Any, None, int]:
        """Elements of the array opening at ``i``; returns the index after its closing bracket."""
        i = self.space(i + 1)
        if self.text[i : i + 1] == "]":
            return i + 1
        while True:
            item, i = _DECODER.raw_decode(self.text, i)
            yield item
            sep, i = self.expect(i, ",]")
            if sep == "]":
                return i


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def _raise_for_status(status: int, body: bytes) -> None:
    if status < 300:  # noqa: PLR2004
        return
    message = ""
    try:
        doc = json.loads(body[:65536])
        message = str(doc.get("message") or doc.get("reason") or "") if isinstance(doc, dict) else ""
    except ValueError:
        message = body[:200].decode(errors="replace")
    raise (GoneError if status == HTTP_GONE else ApiError)(status, message)


def backoff(attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt))."""
    return random.uniform(0.0, min(cap, base * 2 ** min(attempt, 30)))  # noqa: S311 - jitter, not crypto


class Reflector(Generic[T]):
    """One kind's projected objects, kept current by list + watch on its own thread."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        project: Callable[[dict[str, Any]], T | None],
        *,
        page_limit: int = PAGE_LIMIT,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self.resource = resource
        self._client = client
        self._project = project
        self._page_limit = page_limit
        self._watch_seconds = watch_seconds
        self._lock = threading.Lock()
        self._items: dict[str, T] = {}
        self.resource_version = ""
        self.synced = threading.Event()
        self.lists = self.watches = self.gone = self.errors = self.events = self.bookmarks = 0

    def snapshot(self) -> list[T]:
        with self._lock:
            return list(self._items.values())

    def get(self, key: str) -> T | None:
        with self._lock:
            return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)

    def run(self, stop: threading.Event) -> None:
        """List and watch until ``stop`` is set; errors back off with jitter, never end the loop."""
        failures = 0
        while not stop.is_set():
            try:
                if not self.resource_version:
                    self.relist()
                self._watch_once(stop)
                failures = 0
            except GoneError:
                self.gone += 1
                self.resource_version = ""
                log.info("%s: resourceVersion expired (410 Gone); listing again", self.resource.name)
                # A second 410 right after a fresh list means something is wrong: do not spin.
                failures += 1
                if failures > 1:
                    stop.wait(backoff(failures))
            except (httpx.HTTPError, ApiError, ValueError, OSError) as exc:
                self.errors += 1
                failures += 1
                delay = backoff(failures)
                log.warning("%s: %s; retrying in %.1fs", self.resource.name, _describe(exc), delay)
                stop.wait(delay)

    def relist(self) -> None:
        items, version = self._client.list(self.resource.path, self._project, limit=self._page_limit)
        with self._lock:
            self._items = items
        self.resource_version = version
        self.lists += 1
        self.synced.set()

    def _watch_once(self, stop: threading.Event) -> None:
        self.watches += 1
        # Spread reconnections of the kinds over time, as client-go does (timeout in [s, 2s)).
        seconds = self._watch_seconds + random.randrange(self._watch_seconds or 1)  # noqa: S311
        for kind, obj in self._client.watch(self.resource.path, self.resource_version, seconds=seconds):
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind == "BOOKMARK":
                self.bookmarks += 1
            elif kind in {"ADDED", "MODIFIED", "DELETED"}:
                self.events += 1
                self._apply(kind, obj)
            if version:
                self.resource_version = str(version)
            if stop.is_set():
                return

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        key = object_key(obj)
        projected = None if kind == "DELETED" else self._project(obj)
        with self._lock:
            if projected is None:
                self._items.pop(key, None)
            else:
                self._items[key] = projected


def _describe(exc: BaseException) -> str:
    """An error for the log: its type and message (httpx messages never carry request headers)."""
    return f"{type(exc).__name__}: {str(exc)[:200]}"
