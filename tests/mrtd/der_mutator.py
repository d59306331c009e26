"""Structure-aware mutation of DER for fuzzing: decode a tree, change one node, encode it again with right lengths.

Flipping bytes of a certificate or a CMS mostly breaks the outer lengths, so the parser stops at the first header and
nothing deeper is exercised. Mutating the decoded tree keeps every length consistent and reaches the fields a
verifier reads (an extension's value, a curve parameter, a signer's serial number). Written for the tests only, on
purpose independent of ``mrtd._tlv``.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

_MAX_DEPTH = 24


@dataclass
class Node:
    tag: bytes
    value: bytes = b""
    children: list[Node] | None = None
    # An OCTET STRING or BIT STRING whose content is itself DER (an extension value, a SubjectPublicKey).
    wrapped_prefix: bytes = b""

    def encode(self) -> bytes:
        if self.children is None:
            body = self.value
        else:
            body = self.wrapped_prefix + b"".join(child.encode() for child in self.children)
        return self.tag + _length(len(body)) + body


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def decode(data: bytes, depth: int = 0) -> list[Node]:
    """Definite-length DER only (the seeds are ours); raises ValueError on anything else."""
    nodes: list[Node] = []
    pos = 0
    while pos < len(data):
        start = pos
        pos += 1
        if data[start] & 0x1F == 0x1F:
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        tag = data[start:pos]
        first = data[pos]
        pos += 1
        if first == 0x80:
            raise ValueError("indefinite length")
        length = first
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        value = data[pos : pos + length]
        if len(value) != length:
            raise ValueError("truncated")
        pos += length
        node = Node(tag=tag, value=value)
        if depth < _MAX_DEPTH:
            if tag[0] & 0x20:
                node.children = _try_decode(value, depth)
            elif tag[0] in (0x03, 0x04) and len(value) > 2:
                prefix = value[:1] if tag[0] == 0x03 else b""
                inner = value[len(prefix) :]
                if inner[:1] in (b"\x30", b"\x31", b"\x02", b"\x04"):
                    node.children = _try_decode(inner, depth)
                    if node.children is not None:
                        node.wrapped_prefix = prefix
        nodes.append(node)
    return nodes


def _try_decode(data: bytes, depth: int) -> list[Node] | None:
    try:
        return decode(data, depth + 1)
    except (ValueError, IndexError):
        return None


def encode(nodes: list[Node]) -> bytes:
    return b"".join(node.encode() for node in nodes)


def _walk(nodes: list[Node], out: list[Node]) -> list[Node]:
    for node in nodes:
        out.append(node)
        if node.children is not None:
            _walk(node.children, out)
    return out


_VALUES = (b"", b"\x00", b"\xff", b"\x80", b"\x7f" * 40, b"\x01\x00", b"\x00" * 300, b"\x06\x03\x2b\x65\x70")
_TAGS = (b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06", b"\x0c", b"\x13", b"\x17", b"\x18", b"\x1e", b"\x30",
         b"\x31", b"\xa0", b"\xa3", b"\x80")  # fmt: skip


def _subtree(nodes: list[Node], encoded: bytes) -> Node | None:
    for node in nodes:
        if node.encode() == encoded:
            return node
        if node.children is not None and (found := _subtree(node.children, encoded)) is not None:
            return found
    return None


def mutate(tree: list[Node], rnd: random.Random, count: int = 1, *, within: bytes | None = None) -> bytes:
    """``tree`` with ``count`` random node changes, encoded (the tree itself is left as it was). ``within``: only
    change nodes inside the element encoded as these bytes (a certificate inside a CMS, say)."""
    tree = copy.deepcopy(tree)
    roots = tree
    if within is not None:
        root = _subtree(tree, within)
        if root is None:
            raise ValueError("the element to mutate is not in the tree")
        roots = [root]  # changed in place below, so it stays the place to mutate
    for _ in range(count):
        nodes = _walk(roots, [])
        node = rnd.choice(nodes)
        op = rnd.randrange(9)
        if op == 0 and node.children is None and node.value:
            changed = bytearray(node.value)
            changed[rnd.randrange(len(changed))] ^= 1 << rnd.randrange(8)
            node.value = bytes(changed)
        elif op == 1:
            node.tag = rnd.choice(_TAGS)
        elif op == 2 and node.children is None:
            node.value = node.value[: rnd.randrange(len(node.value) + 1)]
        elif op == 3 and node.children:
            del node.children[rnd.randrange(len(node.children))]
        elif op == 4 and node.children:
            node.children.insert(rnd.randrange(len(node.children) + 1), copy.deepcopy(rnd.choice(node.children)))
        elif op == 5:
            node.children, node.value = None, rnd.choice(_VALUES)
        elif op == 6 and node.children and len(node.children) > 1:
            rnd.shuffle(node.children)
        elif op == 7:
            other = copy.deepcopy(rnd.choice(nodes))
            node.tag, node.value, node.children, node.wrapped_prefix = (
                other.tag,
                other.value,
                other.children,
                other.wrapped_prefix,
            )
        elif node.children is None:
            node.value = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80)))
    return encode(tree)
