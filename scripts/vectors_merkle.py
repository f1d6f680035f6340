#!/usr/bin/env python3
"""Test vectors of docs/FORMAT-merkle.md §6.4, §10.7, §11.5 and §12.6.

Everything here follows the text of docs/FORMAT-merkle.md; no jishi code
is imported or run, so the vectors check the document as much as the code: the stream-head map (§10), range proofs (§11) and the C2SP
cosignature/v1 signature (§6). The printed values are the vectors in the
document.

    pip install blake3 cryptography
    python3 scripts/vectors_merkle.py

The script also checks itself against vectors the document already had
(§1.3 roots, §5.3 key ids), and verifies its own range proofs with the
algorithm of §11.3 and its cosignature with the algorithm of §6.3.
"""

import base64
import hashlib
import json
import struct
import sys

from blake3 import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


# --- §1: the RFC 9162 tree -------------------------------------------------


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def leaf_hash(e: bytes) -> bytes:
    return sha256(b"\x00" + e)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list) -> bytes:
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split_point(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m: int, leaves: list) -> list:
    """RFC 9162 PATH(m, D[0:n]), nearest sibling first."""
    n = len(leaves)
    if n <= 1:
        return []
    k = split_point(n)
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def verify_inclusion(e: bytes, index: int, size: int, path: list, root: bytes) -> bool:
    """§2.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(e)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn & 1 == 0:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- §10: the stream-head map ---------------------------------------------

HEAD_TAG = b"jishi.stream-head.v1\x00"
STREAMS_TAG = "jishi.streams/v1"


def head_digest(stream: str, count: int, last: bytes) -> bytes:
    """§10.2."""
    name = stream.encode("utf-8")
    return blake3(
        HEAD_TAG + struct.pack(">I", len(name)) + name + struct.pack(">Q", count) + last
    ).digest()


class StreamMap:
    """§10.3: the heads sorted by the bytes of their names."""

    def __init__(self, heads: dict):
        self.heads = sorted(
            ((s, c, h) for s, (c, h) in heads.items()), key=lambda x: x[0].encode("utf-8")
        )
        self.leaves = [head_digest(s, c, h) for s, c, h in self.heads]
        self.root = mth(self.leaves)

    def line(self) -> str:
        """§10.4."""
        return f"{STREAMS_TAG} {len(self.heads)} {b64(self.root)}"

    def proven(self, i: int) -> dict:
        s, c, h = self.heads[i]
        return {
            "index": i,
            "stream": s,
            "count": c,
            "head": h.hex(),
            "proof": [p.hex() for p in inclusion_path(i, self.leaves)],
        }

    def prove_range(self, lo: str, hi) -> dict:
        """§11.2."""
        names = [s.encode("utf-8") for s, _, _ in self.heads]
        start = sum(1 for n in names if n < lo.encode("utf-8"))
        end = len(names) if hi is None else sum(1 for n in names if n < hi.encode("utf-8"))
        end = max(end, start)
        out = {"from": lo}
        if hi is not None:
            out["to"] = hi
        if start > 0:
            out["before"] = self.proven(start - 1)
        out["streams"] = [self.proven(i) for i in range(start, end)]
        if end < len(names):
            out["after"] = self.proven(end)
        return out


def selector_ranges(selector: dict) -> list:
    """§11.1."""

    def below(p: str):
        b = bytearray(p.encode("utf-8"))
        if b and b[-1] < 0x7F:
            b[-1] += 1
            return (p, b.decode("utf-8"))
        return (p, None)

    if "stream" in selector:
        s = selector["stream"]
        return [(s, s + "\x00")]
    p = selector["prefix"]
    if p.endswith("/"):
        return [below(p)]
    return [(p, p + "\x00"), below(p + "/")]


def verify_range(proof: dict, count: int, root: bytes) -> None:
    """§11.3; raises ValueError naming the failed step."""
    lo = proof["from"].encode("utf-8")
    hi = proof["to"].encode("utf-8") if "to" in proof else None
    shown = ([proof["before"]] if "before" in proof else []) + proof["streams"]
    shown += [proof["after"]] if "after" in proof else []
    for h in shown:
        leaf = head_digest(h["stream"], h["count"], bytes.fromhex(h["head"]))
        path = [bytes.fromhex(p) for p in h["proof"]]
        if not verify_inclusion(leaf, h["index"], count, path, root):
            raise ValueError(f"step 1: {h['stream']} is not in the map")
    for h in proof["streams"]:
        n = h["stream"].encode("utf-8")
        if not (n >= lo and (hi is None or n < hi)):
            raise ValueError("step 2: a listed stream lies outside the range")
    if "before" in proof and not proof["before"]["stream"].encode("utf-8") < lo:
        raise ValueError("step 3: the neighbour before lies inside the range")
    if "after" in proof and (hi is None or proof["after"]["stream"].encode("utf-8") < hi):
        raise ValueError("step 4: the neighbour after lies inside the range")
    nxt = proof["before"]["index"] + 1 if "before" in proof else 0
    for h in proof["streams"] + ([proof["after"]] if "after" in proof else []):
        if h["index"] != nxt:
            raise ValueError(f"step 5: leaf {nxt} is not shown")
        nxt += 1
    if "after" not in proof and nxt != count:
        raise ValueError("step 6: the proof ends before the map does")
    names = [h["stream"].encode("utf-8") for h in shown]
    if any(a >= b for a, b in zip(names, names[1:])):
        raise ValueError("step 7: the shown leaves are not in name order")


# --- §5 and §6: keys, signed notes, cosignature/v1 --------------------------


def key_id(name: str, type_id: bytes, public: bytes) -> bytes:
    return sha256(name.encode("utf-8") + b"\n" + type_id + public)[:4]


def public_of(seed: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def vkey(name: str, type_id: bytes, public: bytes) -> str:
    return f"{name}+{key_id(name, type_id, public).hex()}+{b64(type_id + public)}"


def private_text(name: str, type_id: bytes, seed: bytes) -> str:
    kid = key_id(name, type_id, public_of(seed)).hex()
    return f"PRIVATE+KEY+{name}+{kid}+{b64(type_id + seed)}"


def signature_line(name: str, kid: bytes, sig: bytes) -> str:
    return "\u2014 " + name + " " + b64(kid + sig) + "\n"


def cosignature_message(time: int, text: str) -> bytes:
    """§6.3."""
    return b"cosignature/v1\n" + b"time " + str(time).encode("ascii") + b"\n" + text.encode("utf-8")


def cosign_v1(seed: bytes, time: int, text: str) -> bytes:
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    return struct.pack(">Q", time) + sk.sign(cosignature_message(time, text))


def verify_cosignature_v1(public: bytes, text: str, sig: bytes) -> bool:
    if len(sig) != 72:
        return False
    (time,) = struct.unpack(">Q", sig[:8])
    if time > 2**63 - 1:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig[8:], cosignature_message(time, text))
        return True
    except InvalidSignature:
        return False


# --- the vectors -----------------------------------------------------------


def main() -> int:
    # Self-checks against vectors the document already had.
    leaves7 = [bytes([i]) * 32 for i in range(7)]
    assert mth(leaves7).hex() == "7318881c41fce3c1de3640df8e8c110c93f43f686b74204a9d1ad5b8c71c2047"
    assert key_id("jishi.example/log", b"\x01", public_of(bytes([1]) * 32)).hex() == "4dd1d49c"
    assert mth([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    # §10.7: the map of the 7 test leaves of §1.3 read as a ledger of three
    # streams (position p holds leaf p - 1, the 32 bytes all equal to p - 1).
    order = [
        "election/qingshan-2021",                  # position 1, version 1
        "election/qingshan-2021/candidate/c-0042",  # 2, v1
        "election/qingshan-2021/candidate/c-0042",  # 3, v2
        "election/qingshan-2021",                  # 4, v2
        "election/qingshan-2021/candidate/c-0042",  # 5, v3
        "ledger/keys",                             # 6, v1
        "election/qingshan-2021/candidate/c-0042",  # 7, v4
    ]
    heads = {}
    for pos, stream in enumerate(order, start=1):
        c, _ = heads.get(stream, (0, None))
        heads[stream] = (c + 1, leaves7[pos - 1])
    m = StreamMap(heads)

    print("== §10.7 the stream-head map ==")
    for i, (s, c, h) in enumerate(m.heads):
        d = m.leaves[i]
        print(f"leaf {i}: stream {s!r} count {c} last {h.hex()}")
        name = s.encode("utf-8")
        inp = HEAD_TAG + struct.pack(">I", len(name)) + name + struct.pack(">Q", c) + h
        print(f"  digest input   {inp.hex()}")
        print(f"  head digest    {d.hex()}")
        print(f"  leaf hash      {leaf_hash(d).hex()}")
    print(f"node_hash(leaf 0, leaf 1) {node_hash(leaf_hash(m.leaves[0]), leaf_hash(m.leaves[1])).hex()}")
    print(f"map root (hex)  {m.root.hex()}")
    print(f"line            {m.line()}")
    print(f"empty map line  {StreamMap({}).line()}")

    print()
    print("== §11.5 range proofs ==")
    cases = [
        ("middle stream", {"stream": "election/qingshan-2021/candidate/c-0042"}),
        ("prefix", {"prefix": "election/qingshan-2021"}),
        ("last stream", {"stream": "ledger/keys"}),
        ("absent stream", {"stream": "election/qingshan-2021/candidate/c-0043"}),
    ]
    for label, sel in cases:
        proofs = [m.prove_range(lo, hi) for lo, hi in selector_ranges(sel)]
        for p in proofs:
            verify_range(p, len(m.heads), m.root)
        print(f"-- {label}: selector {json.dumps(sel, ensure_ascii=False)}")
        print(json.dumps(proofs, indent=2, ensure_ascii=False))
    empty = StreamMap({})
    ep = empty.prove_range("x", "x\x00")
    verify_range(ep, 0, empty.root)
    print("-- empty map, selector {\"stream\": \"x\"}")
    print(json.dumps([ep], indent=2, ensure_ascii=False))

    # A tampered proof must fail (the script's verifier is not a no-op).
    bad = m.prove_range("election/qingshan-2021/", "election/qingshan-20210")
    bad["streams"] = []
    try:
        verify_range(bad, len(m.heads), m.root)
        raise SystemExit("a proof with a stream removed verified")
    except ValueError:
        pass

    print()
    print("== §6.4 cosignature/v1 ==")
    log_seed, w_seed = bytes([1]) * 32, bytes([2]) * 32
    log_name, w_name = "jishi.example/log", "witness.example/w1"
    log_pub, w_pub = public_of(log_seed), public_of(w_seed)
    body = "jishi.example/log\n7\n" + b64(mth(leaves7)) + "\n" + m.line() + "\n"
    t = 1773532800  # 2026-03-15T00:00:00Z
    cos, ed = b"\x04", b"\x01"
    w_kid = key_id(w_name, cos, w_pub)
    kid_input = w_name.encode("utf-8") + b"\n" + cos + w_pub
    print(f"witness public key (hex)  {w_pub.hex()}")
    print(f"key id input (hex)        {kid_input.hex()}")
    print(f"key id                    {w_kid.hex()}")
    print(f"vkey                      {vkey(w_name, cos, w_pub)}")
    print(f"private key text          {private_text(w_name, cos, w_seed)}")
    print(f"same key as Ed25519 (0x01) would have id {key_id(w_name, ed, w_pub).hex()}")
    print("checkpoint text (JSON string):", json.dumps(body, ensure_ascii=False))
    msg = cosignature_message(t, body)
    print("signed message (JSON string):", json.dumps(msg.decode("utf-8"), ensure_ascii=False))
    print(f"signed message (hex)      {msg.hex()}")
    sig = cosign_v1(w_seed, t, body)
    assert len(sig) == 72 and verify_cosignature_v1(w_pub, body, sig)
    assert not verify_cosignature_v1(w_pub, body.replace("\n7\n", "\n8\n"), sig)
    moved = bytearray(sig)
    moved[7] ^= 1
    assert not verify_cosignature_v1(w_pub, body, bytes(moved))
    print(f"timestamp bytes (hex)     {sig[:8].hex()}")
    print(f"Ed25519 signature (hex)   {sig[8:].hex()}")
    print(f"signature (72 B, base64)  {b64(sig)}")
    w_line = signature_line(w_name, w_kid, sig)
    print(f"signature line            {w_line}", end="")
    log_kid = key_id(log_name, b"\x01", log_pub)
    log_sig = Ed25519PrivateKey.from_private_bytes(log_seed).sign(body.encode("utf-8"))
    log_line = signature_line(log_name, log_kid, log_sig)
    print(f"log's signature line      {log_line}", end="")
    note = body + "\n" + log_line + w_line
    print("note:")
    print(note, end="")

    # §12.6: the add-checkpoint request a log sends for the log-signed note to
    # a witness that holds nothing yet, and the witness's state.json after it
    # cosigned (serialised as §12.3 says: 2-space indentation, members in
    # the stated order, non-ASCII as UTF-8, no final newline).
    submitted = body + "\n" + log_line
    print()
    print("== §12.6 add-checkpoint request and state.json ==")
    request = "old 0\n" + "\n" + submitted
    print("request body (JSON string):", json.dumps(request, ensure_ascii=False))
    state = {
        "format": "jishi-witness-state/2",
        "logs": {
            log_name: {"size": 7, "root": mth(leaves7).hex(), "checkpoint": submitted},
        },
    }
    state_text = json.dumps(state, indent=2, ensure_ascii=False)
    print("state.json:")
    print(state_text)
    print(f"state.json BLAKE3 {blake3(state_text.encode('utf-8')).hexdigest()} ({len(state_text.encode('utf-8'))} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
