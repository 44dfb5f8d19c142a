"""Manifest bytes to YAML documents within limits: size, encoding, depth, aliases, integers, duplicates."""

from __future__ import annotations

from typing import Any, BinaryIO, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_BYTES = 1024 * 1024
"""A manifest file (or stdin) larger than this is refused before it is parsed; only this much is read."""
MAX_DEPTH = 64
"""Nesting deeper than this (mappings in sequences in ...) is refused while parsing, before any recursion."""
MAX_NODES = 50_000
"""Nodes per file with every alias expanded: an alias bomb fails after a few dozen nodes, not gigabytes."""
MAX_INT_DIGITS = 32
"""Longer integers are refused (Kubernetes integers are int64: 19 digits)."""

_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Byte-order marks of encodings that are not UTF-8 (longest first: UTF-32 LE starts like UTF-16 LE).
_OTHER_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)


class InputError(ValueError):
    """Input refused before or while parsing; ``obj`` and ``field`` say where, when known."""

    def __init__(self, message: str, *, obj: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj
        self.field = field


def read(stream: BinaryIO) -> bytes:
    """At most ``MAX_BYTES`` from ``stream`` (a file, stdin, /dev/zero): never the whole of a huge input."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InputError(f"larger than {MAX_BYTES // 1024} KiB; manifests are small, so this is not one")
    return data


def decode(data: bytes) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is allowed); other encodings and binary data are refused."""
    for bom, name in _OTHER_BOMS:
        if data.startswith(bom):
            raise InputError(f"the file is {name} text; save it as UTF-8 (what kubectl expects)")
    if b"\x00" in data:
        raise InputError("the file contains NUL bytes: it is binary or UTF-16/32 text; save it as UTF-8")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}; save the file as UTF-8"
        raise _where_replaced(data.decode("utf-8", "replace"), message) from None


def _where_replaced(text: str, message: str) -> InputError:
    """``message`` about the first undecodable byte, naming the object and field that hold it."""
    for number, document in enumerate(load_all(text), start=1):
        path = _find(document, "\ufffd", [])
        if path is not None and isinstance(document, dict):
            kind, meta = document.get("kind"), document.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            return InputError(
                message, obj=f"{kind or f'document {number}'}/{name or '?'}", field=field_path(path)
            )
    return InputError(message)


def _find(value: Any, needle: str, path: list[str | int]) -> list[str | int] | None:
    """The path of the first key or string containing ``needle`` (documents are bounded in depth)."""
    if isinstance(value, str):
        return path if needle in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        step = key if isinstance(key, int) else str(key)
        if needle in str(key):
            return [*path, step]
        found = _find(item, needle, [*path, step])
        if found is not None:
            return found
    return None


def load_all(text: str) -> list[Any]:
    """Every document of ``text``; raises InputError (limits) or yaml.YAMLError (syntax)."""
    loader = _BoundedLoader(text)
    try:
        documents: list[Any] = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
        return documents
    finally:
        loader.dispose()


def _segment(parent: Node | None, index: Any) -> str | int | None:
    """The path step to a node: a mapping value's key, a sequence position; None for keys and the root."""
    if parent is None or index is None:
        return None
    if isinstance(index, ScalarNode):
        return str(index.value)
    return index if isinstance(index, int) else "?"


def object_label(kind: object, name: object, number: int) -> str:
    """How errors name a document: ``ScanPolicy/daily``, or ``document 2/?`` until its kind is known."""
    return f"{kind or f'document {number}'}/{name or '?'}"


def field_path(path: list[str | int]) -> str:
    """``spec.modules[0].settings`` from its steps; a very deep path keeps its first steps."""
    out = ""
    for step in path[:12]:
        out += f"[{step}]" if isinstance(step, int) else ("." if out else "") + step
    return out + ("…" if len(path) > 12 else "")  # noqa: PLR2004 - enough steps to find the spot


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts depth and expanded nodes while composing, before anything is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._document = 0
        self._depth = 0
        self._path: list[str | int] = []
        self._expanded = 0
        self._sizes: dict[int, int] = {}
        self._kind: str | None = None
        self._name: str | None = None

    def compose_document(self) -> Node | None:
        self._document += 1
        self._sizes, self._kind, self._name = {}, None, None
        return super().compose_document()

    def _refuse(self, message: str, node_mark: Any) -> InputError:
        where = f" (line {node_mark.line + 1})" if node_mark is not None else ""
        obj = object_label(self._kind, self._name, self._document)
        return InputError(message + where, obj=obj, field=field_path(self._path) or None)

    def _count(self, nodes: int, mark: Any) -> None:
        self._expanded += nodes
        if self._expanded > MAX_NODES:
            raise self._refuse(
                f"more than {MAX_NODES:,} YAML nodes with aliases expanded (an alias bomb?)", mark
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        step = _segment(parent, index)
        if step is not None:
            self._path.append(step)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise self._refuse(f"nested deeper than {MAX_DEPTH} levels", mark)
            if self.check_event(yaml.AliasEvent):
                return self._alias(parent, index)
            before = self._expanded
            node = cast("Node", super().compose_node(parent, index))
            self._count(1, node.start_mark)
            self._sizes[id(node)] = self._expanded - before
            self._check(node)
            return node
        finally:
            self._depth -= 1
            if step is not None:
                self._path.pop()

    def _alias(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        target = self.anchors.get(event.anchor)
        if target is not None:
            size = self._sizes.get(id(target))
            if size is None:
                raise self._refuse(
                    f"alias *{event.anchor} refers to a node that contains it", event.start_mark
                )
            self._count(size, event.start_mark)
        return cast("Node", super().compose_node(parent, index))

    def _check(self, node: Node) -> None:
        if isinstance(node, ScalarNode):
            if node.tag == _INT_TAG and len(node.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
                digits = len(node.value)
                raise self._refuse(f"an integer of {digits:,} digits is out of range", node.start_mark)
            if self._path == ["kind"]:
                self._kind = str(node.value)
            elif self._path == ["metadata", "name"]:
                self._name = str(node.value)
        elif isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for key, _ in node.value:
                if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                    continue
                if (key.tag, key.value) in seen:
                    self._path.append(str(key.value))
                    refused = self._refuse(
                        "duplicate key (YAML would silently keep the last)", key.start_mark
                    )
                    self._path.pop()
                    raise refused
                seen.add((key.tag, key.value))
