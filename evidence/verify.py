#!/usr/bin/env python3
"""Offline verifier of a GreenOS evidence archive (one MRV export).

    python3 verify.py          checks the archive this file belongs to
    python3 verify.py DIR      checks the archive unpacked in DIR

Python 3.9+ and its standard library are enough. Ed25519 signatures are verified with the
`cryptography` package when it is importable (faster), otherwise with the pure-Python
verification of RFC 8032 section 5.1.7 below; GREENOS_VERIFY_PURE_PYTHON=1 forces the latter.

Every check prints one line, `OK   <check>  <detail>`, `FAIL <check>  <detail>` or
`SKIP <check>  <why>`, then a summary line. Exit status: 0 when every check passed (a SKIP is
not a failure), 1 when any failed, 2 on a usage error.

The checks (definitions: SPEC sections 5-8 and docs/auditor_guide.md):

  manifest                   SHA256SUMS lists every file of the archive with its SHA-256, and
                             SHA256SUMS.sig's `message` is the SHA-256 of SHA256SUMS
  manifest_signature         SHA256SUMS.sig verifies with its key_version's key
  key_fingerprints           every key's fingerprint_sha256 is the SHA-256 of its raw bytes;
                             the active key is part of the key history
  payload_hash               SHA-256 of the canonical payload bytes equals verification_hash,
                             and the payload is canonical JSON of schema greenos.mrv.v1 or
                             greenos.mrv.v2 (v1 plus log_checkpoint and impacts' leaf_index)
  export_signature           asym_signature (Ed25519) over the ASCII hex verification_hash
  export_hmac                (SKIP: needs the operator's secret)
  impacts                    every impact's event_hash, checksum, co2_avoided_kg, factors,
                             window and Ed25519 signature; leaf_index present in v2 only
  totals                     aggregation (with by_country), country_factors and model_versions
                             re-computed exactly from the impacts
  non_double_counting_proof  impacts sorted and unique by trip_id, proof counts, proof_hash
  methodology_hash           the methodology snapshot hashes to the bound methodology_hash,
                             and the payload's binding and factors agree with it
  log_binding                every impact's leaf_index is below log_checkpoint.tree_size and
                             no two are the same; log_checkpoint.note is the C2SP signed note
                             of exactly that origin, tree_size and root_hash, signed under the
                             origin by a key of the key history; log_checkpoint.txt is the
                             same note byte for byte
  log_key                    log_key.json names the checkpoint's origin, its verifier_key is
                             the note verifier key of origin and public_key, and the key is
                             the key history's key_version with its fingerprint
  log_proofs                 log_proofs.json has the checkpoint's tree_size and root_hash and
                             an RFC 9162 inclusion proof for each impact of the deterministic
                             sample (the first, the last and up to 1 000 spread evenly), each
                             matching the payload's impact and verifying against the root
  verification_response      verification.json verified this export and this hash

The three log checks concern greenos.mrv.v2 exports, which are bound to the transparency log
(SPEC section 18); for a greenos.mrv.v1 export they SKIP, and its archive needs no
log_key.json, log_checkpoint.txt or log_proofs.json.

The artifact is never loaded whole: it is read in chunks, and the elements of
`payload.impacts` are decoded one at a time while the bytes of the payload value go through a
running SHA-256. Memory stays bounded by the size of one impact, the per-country totals, 16
bytes per impact (a trip_id digest and the leaf_index; see ImpactAudit), the at most 1 000
sampled impacts of log_proofs.json, and at log_binding a bitmap of one bit per leaf of the
checkpointed tree (see leaf_index_problems).
"""

import array
import base64
import codecs
import datetime
import hashlib
import json
import os
import re
import sys
import time
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
)

# --------------------------------------------------------------------------------------------
# The archive

ARTIFACT = "artifact.json"
VERIFICATION = "verification.json"
PUBLIC_KEY = "public_key.json"
PUBLIC_KEYS = "public_keys.json"
METHODOLOGY = "methodology.json"
LOG_KEY = "log_key.json"
LOG_CHECKPOINT = "log_checkpoint.txt"
LOG_PROOFS = "log_proofs.json"
SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.sig"
REQUIRED_FILES = (ARTIFACT, VERIFICATION, PUBLIC_KEY, PUBLIC_KEYS, METHODOLOGY, "README.md",
                  "verify.py")
# Only the archive of a greenos.mrv.v2 export (bound to the transparency log) has these.
LOG_FILES = (LOG_CHECKPOINT, LOG_KEY, LOG_PROOFS)

CHECKS = ("manifest", "manifest_signature", "key_fingerprints", "payload_hash",
          "export_signature", "export_hmac", "impacts", "totals", "non_double_counting_proof",
          "methodology_hash", "log_binding", "log_key", "log_proofs", "verification_response")

HMAC_SKIP = "needs the operator's secret; POST /api/v2/esg/mrv/verify checks it"

# The artifact is read in pieces of this many bytes (a module variable, so tests can make it
# tiny and put chunk boundaries everywhere).
CHUNK_BYTES = 1 << 20
PROGRESS_EVERY = 100_000
MAX_EXAMPLES = 5

# --------------------------------------------------------------------------------------------
# Canonical JSON and hashes (SPEC section 5; the same function as tests/vectors/check_vectors.py)

MAX_SAFE_INTEGER = 2 ** 53 - 1
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_text(value):
    """`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`."""
    return _ENCODER.encode(value)


def canonical(value):
    return canonical_text(value).encode("utf-8")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


class NotCanonical(ValueError):
    """A number canonical JSON does not allow (a fraction, an exponent, NaN, Infinity)."""


def _refuse_float(text):
    raise NotCanonical("non-integer number %s (decimals are 6-decimal strings)" % text)


def _refuse_constant(text):
    raise NotCanonical("non-JSON number %s" % text)


# The C-accelerated decoder, refusing what canonical JSON refuses.
_DECODER = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_constant)


def _unique_pairs(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key %r" % key)
        result[key] = value
    return result


def load_json_file(path):
    """A small JSON file, parsed strictly (duplicate keys and NaN refused)."""
    with open(path, "rb") as f:
        data = f.read()
    return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_pairs,
                      parse_constant=_refuse_constant)


def integers_in_range(value):
    """Whether every integer in `value` lies within +-(2^53 - 1) (SPEC section 5)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, list):
        return all(integers_in_range(item) for item in value)
    if isinstance(value, dict):
        return all(integers_in_range(item) for item in value.values())
    return False


HEX64 = re.compile(r"[0-9a-f]{64}\Z")
SIX_DECIMALS = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]{6}\Z")
TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                       r"\.([0-9]{6})Z\Z")


def is_hex64(value):
    return isinstance(value, str) and HEX64.match(value) is not None


def is_six_decimals(value):
    """A decimal as SPEC section 4 carries it: exactly 6 decimals, never -0.000000."""
    return (isinstance(value, str) and SIX_DECIMALS.match(value) is not None
            and value != "-0.000000")


def is_timestamp(value):
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ`, a real instant (the form sorts as text)."""
    if not isinstance(value, str):
        return False
    match = TIMESTAMP.match(value)
    if match is None:
        return False
    try:
        datetime.datetime(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


def micro(text):
    """A 6-decimal string (already validated) as an integer of millionths."""
    return int(text.replace(".", "", 1))


def from_micro(value):
    """Millionths as the 6-decimal string (Decimal6 of the Rust code)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 1_000_000)
    return "%s%d.%06d" % (sign, whole, frac)


# Exact decimal arithmetic, as check_vectors.py does it: 60 digits never round a product of
# two 6-decimal quantities within rust_decimal's range.
DECIMAL_CONTEXT = Context(prec=60)
MICRO = Decimal("0.000001")
ROUNDING_MODES = {"half_even": ROUND_HALF_EVEN, "half_up": ROUND_HALF_UP,
                  "half_down": ROUND_HALF_DOWN, "down": ROUND_DOWN, "up": ROUND_UP,
                  "floor": ROUND_FLOOR, "ceiling": ROUND_CEILING}
ROUNDING_RULE = re.compile(r"(half_even|half_up|half_down|down|up|floor|ceiling)_([0-6])dp\Z")


def six_places(value):
    """An exact Decimal as exactly 6 decimals, never -0.000000 (check_vectors.py)."""
    quantized = value.quantize(MICRO, context=DECIMAL_CONTEXT)
    if quantized == 0:
        quantized = Decimal("0.000000")
    return "{:f}".format(quantized)


class Rounding:
    """The methodology's `rounding` rule; SPEC section 4 (half-even, 6 decimals) by default."""

    def __init__(self, rule):
        self.rule = rule
        match = ROUNDING_RULE.match(rule) if isinstance(rule, str) else None
        self.understood = match is not None
        mode, places = (match.group(1), int(match.group(2))) if match else ("half_even", 6)
        self.mode = ROUNDING_MODES[mode]
        self.quantum = Decimal(1).scaleb(-places)

    def co2(self, distance, thermal, ev):
        """`distance * thermal - distance * ev`, exactly, then rounded (SPEC section 4)."""
        d, t, e = Decimal(distance), Decimal(thermal), Decimal(ev)
        ctx = DECIMAL_CONTEXT
        exact = ctx.subtract(ctx.multiply(d, t), ctx.multiply(d, e))
        return six_places(exact.quantize(self.quantum, rounding=self.mode, context=ctx))


# --------------------------------------------------------------------------------------------
# Ed25519 verification (RFC 8032)

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_D2 = 2 * _D % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_IDENTITY = (0, 1, 1, 0)


def _point_add(p, q):
    """Extended twisted-Edwards coordinates (RFC 8032 section 5.1.4); complete formulas."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_decode(data):
    """RFC 8032 section 5.1.3; None when `data` is no point's encoding."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


COMB_BITS = 8


def _comb_table(point):
    """rows[j][n] = n * 2^(8j) * point, for scalars below 2^256: a scalar multiplication is
    then 32 additions and no doubling. Built once per key (8 160 additions, a few tens of ms),
    which pays off from the first few dozen signatures of an export on."""
    rows = []
    base = point
    for _ in range(0, 256, COMB_BITS):
        row = [_IDENTITY, base]
        for _ in range((1 << COMB_BITS) - 2):
            row.append(_point_add(row[-1], base))
        rows.append(row)
        for _ in range(COMB_BITS):
            base = _point_double(base)
    return rows


def _comb_multiply(rows, scalar, q=_IDENTITY):
    """q + scalar * point, with `rows` the point's comb table."""
    mask = (1 << COMB_BITS) - 1
    for row in rows:
        n = scalar & mask
        if n:
            q = _point_add(q, row[n])
        scalar >>= COMB_BITS
    return q


_B = _point_decode(bytes.fromhex(
    "5866666666666666666666666666666666666666666666666666666666666666"))
_B_TABLE = []


class PurePythonEd25519:
    """One public key; `verify` is RFC 8032 section 5.1.7 (the cofactorless equation
    [S]B = R + [k]A, as OpenSSL checks it)."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        point = _point_decode(self.raw)
        if point is None:
            raise ValueError("the public key is not the encoding of a curve point")
        x, y, z, t = point
        # [S]B - [k]A is computed as [S]B + [k](-A).
        self.minus_a = _comb_table((_P - x, y, z, _P - t))
        if not _B_TABLE:
            _B_TABLE.extend(_comb_table(_B))

    def verify(self, signature, message):
        if len(signature) != 64:
            return False
        r = _point_decode(signature[:32])
        if r is None:
            return False
        s = int.from_bytes(signature[32:], "little")
        if s >= _L:  # non-canonical S is rejected
            return False
        k = int.from_bytes(hashlib.sha512(signature[:32] + self.raw + message).digest(),
                           "little") % _L
        q = _comb_multiply(self.minus_a, k, _comb_multiply(_B_TABLE, s))
        # q == R, in projective form (R has Z = 1).
        qx, qy, qz, _ = q
        rx, ry, _, _ = r
        return (qx - rx * qz) % _P == 0 and (qy - ry * qz) % _P == 0


def ed25519_backend():
    """(factory of per-key verifiers, description)."""
    if os.environ.get("GREENOS_VERIFY_PURE_PYTHON") == "1":
        return PurePythonEd25519, "pure Python (RFC 8032, GREENOS_VERIFY_PURE_PYTHON=1)"
    try:
        import cryptography
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except Exception:  # absent or broken: the standard library is enough
        return PurePythonEd25519, "pure Python (RFC 8032; cryptography is not installed)"

    class CryptographyEd25519:
        def __init__(self, raw):
            self.key = Ed25519PublicKey.from_public_bytes(bytes(raw))

        def verify(self, signature, message):
            try:
                self.key.verify(signature, message)
                return True
            except InvalidSignature:
                return False

    try:  # an OpenSSL without Ed25519 makes the package useless here
        probe = CryptographyEd25519(bytes.fromhex(_RFC8032_TEST_1[0]))
        usable = probe.verify(bytes.fromhex(_RFC8032_TEST_1[1]), b"")
    except Exception:
        usable = False
    if not usable:
        return PurePythonEd25519, "pure Python (RFC 8032; cryptography lacks Ed25519)"
    return CryptographyEd25519, "cryptography %s" % getattr(cryptography, "__version__", "?")


# RFC 8032 section 7.1, TEST 1: public key and signature of the empty message.
_RFC8032_TEST_1 = (
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def b64decode_strict(text):
    if not isinstance(text, str):
        raise ValueError("not a string")
    return base64.b64decode(text.encode("ascii"), validate=True)


class KeyHistory:
    """public_keys.json: every key version of the Ed25519 ring."""

    def __init__(self, factory, doc):
        self.factory = factory
        self.doc = doc
        self.payloads = {}
        self.problems = []
        self._verifiers = {}
        keys = doc.get("keys") if isinstance(doc, dict) else doc
        if not isinstance(keys, list):
            raise ValueError("%s holds no `keys` list" % PUBLIC_KEYS)
        for entry in keys:
            version = entry.get("key_version") if isinstance(entry, dict) else None
            if not isinstance(version, str):
                self.problems.append("a key without key_version")
                continue
            if version in self.payloads:
                self.problems.append("key version %s listed twice" % version)
                continue
            self.payloads[version] = entry

    def raw(self, version):
        """The raw 32 bytes of `version`'s public key, or None."""
        entry = self.payloads.get(version)
        try:
            raw = b64decode_strict(entry.get("public_key"))
        except Exception:
            return None
        return raw if len(raw) == 32 else None

    def verifier(self, version):
        """The verifier of `version`, or a string saying why there is none."""
        if version in self._verifiers:
            return self._verifiers[version]
        entry = self.payloads.get(version)
        if entry is None:
            result = "key version %r is not in %s" % (version, PUBLIC_KEYS)
        else:
            try:
                raw = b64decode_strict(entry.get("public_key"))
                if len(raw) != 32:
                    raise ValueError("%d bytes, not 32" % len(raw))
                result = self.factory(raw)
            except Exception as e:
                result = "key version %s is unusable: %s" % (version, e)
        self._verifiers[version] = result
        return result

    def verify(self, version, signature_b64, message):
        """None when the signature verifies, else why not."""
        verifier = self.verifier(version)
        if isinstance(verifier, str):
            return verifier
        try:
            signature = b64decode_strict(signature_b64)
        except Exception:
            return "the signature is not standard base64"
        if len(signature) != 64:
            return "the signature is %d bytes, not 64" % len(signature)
        if not verifier.verify(signature, message):
            return "the Ed25519 signature does not verify with key %s" % version
        return None


# --------------------------------------------------------------------------------------------
# The transparency log (SPEC section 18): RFC 6962 / RFC 9162 Merkle proofs and C2SP signed
# notes, with hashlib alone

MAX_SAMPLE = 1000  # log_proofs.json: the first, the last and up to 1 000 impacts spread evenly
EMPTY_TREE_ROOT = hashlib.sha256(b"").hexdigest()
NOTE_SIGNATURE_LINE = re.compile("\u2014 ([^ \n]+) ([A-Za-z0-9+/]+={0,2})\\Z")


def sample_positions(n):
    """The positions (0-based, in payload order) of the impacts log_proofs.json proves: with
    m = min(1000, n), 0, n - 1 and k * (n - 1) // (m - 1) for k < m, sorted and unique."""
    if n <= 0:
        return []
    if n == 1:
        return [0]
    m = min(MAX_SAMPLE, n)
    return sorted(set([0, n - 1] + [k * (n - 1) // (m - 1) for k in range(m)]))


def log_leaf_hash(event_hash):
    """RFC 6962's leaf hash of an impact: the leaf is the 64 ASCII characters of event_hash."""
    return hashlib.sha256(b"\x00" + event_hash.encode("ascii")).digest()


def log_node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf_hash, leaf_index, tree_size, proof, root):
    """RFC 9162 section 2.1.3.2: whether `proof` (hashes from the leaf up) proves the leaf
    hash `leaf_hash` at `leaf_index` in the tree of `tree_size` leaves whose root is `root`."""
    if not 0 <= leaf_index < tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = log_node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = log_node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def checkpoint_text(origin, tree_size, root_hash):
    """The C2SP tlog-checkpoint text the note signs: origin, size, base64 root, each a line."""
    return "%s\n%d\n%s\n" % (origin, tree_size,
                             base64.b64encode(bytes.fromhex(root_hash)).decode("ascii"))


def note_key_id(origin, public_key):
    """The C2SP signed-note key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(origin.encode("utf-8") + b"\n\x01" + public_key).digest()[:4]


def note_verifier_key(origin, public_key):
    """The note verifier key string: `<origin>+<8 hex key id>+<base64(0x01 || key)>`."""
    return "%s+%s+%s" % (origin, note_key_id(origin, public_key).hex(),
                         base64.b64encode(b"\x01" + public_key).decode("ascii"))


def is_note_name(name):
    """A note key name: non-empty, no space (nor any white space) and no `+`."""
    return isinstance(name, str) and name != "" and "+" not in name and not any(
        c.isspace() for c in name)


def split_signed_note(note):
    """(text, [(name, decoded signature bytes)]) of a C2SP signed note, or a string saying
    why `note` is not one: the text (ending in a newline) and the signature lines are
    separated by the note's last blank line; each signature line is
    `\u2014 <name> <base64(4-byte key id || signature)>` and ends with a newline."""
    if not isinstance(note, str):
        return "the note is not a string"
    end = note.rfind("\n\n")
    if end < 0:
        return "the note has no blank line between its text and its signatures"
    text, lines = note[:end + 1], note[end + 2:]
    if not lines.endswith("\n"):
        return "the note's signature lines do not end with a newline"
    signatures = []
    for number, line in enumerate(lines[:-1].split("\n"), 1):
        match = NOTE_SIGNATURE_LINE.match(line)
        if match is None:
            return "the note's signature line %d is not `\u2014 <name> <base64>`" % number
        try:
            raw = b64decode_strict(match.group(2))
        except ValueError:
            return "the note's signature line %d is not standard base64" % number
        if len(raw) < 5:
            return "the note's signature line %d is too short" % number
        signatures.append((match.group(1), raw))
    return text, signatures


def verify_signed_note(note, origin, keys):
    """Checks a signed note's signatures under `origin` with the Ed25519 keys of `keys` (a
    KeyHistory): (key versions whose signature verified, problems). A signature whose key id
    is a known key's must verify (as Go's sumdb/note has it); lines of other names or unknown
    key ids (cosigners, witnesses) are let be."""
    parsed = split_signed_note(note)
    if isinstance(parsed, str):
        return [], [parsed]
    text, signatures = parsed
    message = text.encode("utf-8")
    by_id = {}
    for version in sorted(keys.payloads):
        raw = keys.raw(version)
        if raw is not None:
            by_id.setdefault(note_key_id(origin, raw), []).append(version)
    verified, problems = [], []
    for name, raw in signatures:
        if name != origin:
            continue
        versions = by_id.get(raw[:4], [])
        if not versions:
            continue
        good = None
        if len(raw) == 68:
            for version in versions:
                verifier = keys.verifier(version)
                if not isinstance(verifier, str) and verifier.verify(raw[4:], message):
                    good = version
                    break
        if good is None:
            problems.append("the note's signature by key id %s (key %s) does not verify" % (
                raw[:4].hex(), "/".join(versions)))
        elif good not in verified:
            verified.append(good)
    if not verified and not problems:
        problems.append("no signature of the note is %s's by a key of %s" % (origin,
                                                                           PUBLIC_KEYS))
    return verified, problems


def leaf_index_problems(leaf_indices, tree_size):
    """leaf_indices (ImpactAudit's array, NO_LEAF where absent) against a tree of tree_size
    leaves: (how many lie outside [0, tree_size), the first, how many repeat an index, the
    first). Repeats are found with a bitmap of one bit per leaf when that costs at most 8
    bytes per impact (or 16 MiB), else by sorting."""
    outside, outside_example, repeated, repeated_example = 0, None, 0, None
    largest = -1
    for position, index in enumerate(leaf_indices):
        if index == NO_LEAF:
            continue
        if index >= tree_size:
            outside += 1
            if outside_example is None:
                outside_example = "impact #%d has leaf_index %d" % (position + 1, index)
        elif index > largest:
            largest = index
    bits = largest + 1
    if bits <= max(64 * len(leaf_indices), 1 << 27):
        seen = bytearray((bits + 7) // 8)
        for position, index in enumerate(leaf_indices):
            if index == NO_LEAF or index >= tree_size:
                continue
            byte, bit = index >> 3, 1 << (index & 7)
            if seen[byte] & bit:
                repeated += 1
                if repeated_example is None:
                    repeated_example = "impact #%d repeats leaf_index %d" % (position + 1,
                                                                              index)
            else:
                seen[byte] |= bit
    else:
        previous = None
        for index in sorted(i for i in leaf_indices if i != NO_LEAF and i < tree_size):
            if index == previous:
                repeated += 1
                if repeated_example is None:
                    repeated_example = "leaf_index %d is repeated" % index
            previous = index
    return outside, outside_example, repeated, repeated_example


# --------------------------------------------------------------------------------------------
# The streaming reader of artifact.json


class ScanError(Exception):
    """artifact.json cannot be read as JSON (the scan stops)."""


class JsonStream:
    """Reads a JSON document in chunks, value by value, with C-speed decoding of each value.

    Bytes are decoded as UTF-8 incrementally; a running SHA-256 of the raw file and, between
    `start_payload_hash` and `stop_payload_hash`, one of the payload value's bytes. Text decoded
    from valid UTF-8 encodes back to the very same bytes, so hashing the re-encoded text is
    hashing the file's bytes.
    """

    def __init__(self, f, chunk_bytes):
        self.f = f
        self.chunk = max(1, chunk_bytes)
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.file_hash = hashlib.sha256()
        self.buf = ""
        self.pos = 0
        self.base = 0  # characters dropped from the front of buf
        self.eof = False
        self.payload_hash = None
        self.payload_bytes = 0
        self.mark = 0

    def where(self, pos=None):
        return "character %d of %s" % (self.base + (self.pos if pos is None else pos), ARTIFACT)

    def _flush_hash(self):
        if self.payload_hash is not None and self.pos > self.mark:
            data = self.buf[self.mark:self.pos].encode("utf-8")
            self.payload_hash.update(data)
            self.payload_bytes += len(data)
            self.mark = self.pos

    def _fill(self, at_least=0):
        """Reads more; False at the end of the file."""
        if self.eof:
            return False
        self._flush_hash()
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.base += self.pos
            self.mark -= self.pos
            self.pos = 0
        data = self.f.read(max(self.chunk, at_least))
        self.file_hash.update(data)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            raise ScanError("%s is not UTF-8 (%s)" % (ARTIFACT, e.reason))
        if not data:
            self.eof = True
        self.buf += text
        return True

    def drain(self):
        """Reads the rest of the file into the file hash; its SHA-256 hex."""
        while not self.eof:
            data = self.f.read(1 << 20)
            if not data:
                self.eof = True
            self.file_hash.update(data)
        return self.file_hash.hexdigest()

    def char(self):
        """The next character, consumed ('' at the end)."""
        while self.pos >= len(self.buf):
            if not self._fill():
                return ""
        c = self.buf[self.pos]
        self.pos += 1
        return c

    def peek(self):
        while self.pos >= len(self.buf):
            if not self._fill():
                return ""
        return self.buf[self.pos]

    def skip_whitespace(self):
        while True:
            c = self.peek()
            if c in (" ", "\t", "\n", "\r") and c:
                self.pos += 1
            else:
                return

    def value(self):
        """The next JSON value: (decoded value, its exact text)."""
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                raise ScanError("unexpected end of %s" % ARTIFACT)
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                # A value cut by the end of the buffer: read more and decode again, reading
                # as much again each time so that a long value costs linear time.
                truncated = e.pos >= len(self.buf) - 16 or e.msg.startswith("Unterminated")
                if truncated and self._fill(len(self.buf) - self.pos):
                    continue
                if truncated:
                    raise ScanError("unexpected end of %s inside a value (%s: %s)" % (
                        ARTIFACT, self.where(e.pos), e.msg))
                raise ScanError("invalid JSON at %s: %s" % (self.where(e.pos), e.msg))
            except NotCanonical as e:
                raise ScanError("%s at %s" % (e, self.where()))
            except (ValueError, RecursionError) as e:
                raise ScanError("invalid JSON at %s: %s" % (self.where(), e))
            if end >= len(self.buf) and not self.eof:
                # A number may continue in the next chunk.
                self._fill(len(self.buf) - self.pos)
                continue
            text = self.buf[self.pos:end]
            self.pos = end
            return obj, text

    def start_payload_hash(self):
        self.payload_hash = hashlib.sha256()
        self.payload_bytes = 0
        self.mark = self.pos

    def stop_payload_hash(self):
        self._flush_hash()
        digest = self.payload_hash.hexdigest()
        self.payload_hash = None
        return digest


# --------------------------------------------------------------------------------------------
# The payload, as it streams past

SCHEMA_V1 = "greenos.mrv.v1"  # exports made before the transparency log existed
SCHEMA_V2 = "greenos.mrv.v2"  # v1 plus log_checkpoint and a leaf_index on every impact
SCHEMA_VERSIONS = (SCHEMA_V1, SCHEMA_V2)
DEDUPLICATION_RULE = "latest_ledger_seq_per_trip_id"
PAYLOAD_MEMBERS = frozenset((
    "aggregation", "country_factors", "generated_at", "impacts", "methodology",
    "model_versions", "non_double_counting_proof", "period", "period_end", "period_start",
    "schema_version"))
PAYLOAD_MEMBERS_BY_SCHEMA = {SCHEMA_V1: PAYLOAD_MEMBERS,
                             SCHEMA_V2: PAYLOAD_MEMBERS | {"log_checkpoint"}}
LOG_CHECKPOINT_FIELDS = frozenset(("note", "origin", "root_hash", "tree_size"))
LOG_KEY_FIELDS = frozenset(("origin", "verifier_key", "key_version", "public_key",
                            "fingerprint_sha256"))
LOG_V1_SKIP = "%s export (made before the transparency log)" % SCHEMA_V1
EVENT_HASH_FIELDS = ("trip_id", "user_id", "vehicle_id", "country_code", "geo_hash",
                     "event_timestamp", "distance_km", "thermal_factor_local", "ev_factor_local",
                     "co2_avoided_kg", "model_version", "methodology_version")
IMPACT_STRINGS = ("trip_id", "user_id", "vehicle_id", "country_code", "geo_hash",
                  "event_timestamp", "distance_km", "thermal_factor_local", "ev_factor_local",
                  "co2_avoided_kg", "model_version", "methodology_version", "event_hash",
                  "checksum", "signature", "signature_algorithm", "key_version",
                  "asym_signature", "asym_algorithm", "asym_key_version", "created_at")
IMPACT_FIELDS = frozenset(IMPACT_STRINGS + ("ledger_seq", "correlation_id"))
# greenos.mrv.v2: the impact's leaf in the transparency log (carried along, not hashed).
IMPACT_FIELDS_V2 = IMPACT_FIELDS | {"leaf_index"}
NO_LEAF = 2 ** 64 - 1  # ImpactAudit.leaf_indices' mark of an impact without a valid leaf_index
IMPACT_DECIMALS = ("distance_km", "thermal_factor_local", "ev_factor_local", "co2_avoided_kg")
PROOF_FIELDS = frozenset((
    "deduplication_rule", "double_counting_blocked", "duplicate_trip_frequencies",
    "duplicate_trip_ids", "duplicates_removed_count", "proof_hash", "raw_impacts_count",
    "selected_impacts_count"))
COUNTRY = re.compile(r"[A-Z]{2}\Z")
MAX_DISTANCE_MICRO = 10_000 * 1_000_000


def trip_digest(trip_id):
    return int.from_bytes(hashlib.blake2b(trip_id.encode("utf-8"), digest_size=8).digest(),
                          "little")


def factor_order(entry):
    """country_factors lists: by methodology_version, then thermal, then EV factor."""
    return (entry[0], Decimal(entry[1]), Decimal(entry[2]))


class ImpactAudit:
    """Checks each impact as it arrives and keeps only what the end of the payload needs:
    totals per country, the factor sets and model versions used, the first failures, and, for
    the non-double-counting proof (which follows the impacts in canonical order), one 8-byte
    digest per trip_id so that the proof's duplicate_trip_ids can be looked up at the end.
    Sorting and uniqueness need no memory: each trip_id must be greater than the previous one.

    The transparency log (greenos.mrv.v2) adds 8 bytes per impact, its leaf_index: the
    checkpoint that bounds them and the schema_version that says whether they must be there
    both follow the impacts in canonical order. The impacts log_proofs.json samples (at most
    1 000, named by trip_id) are kept whole enough to be compared with their proofs.
    """

    def __init__(self, keys, rounding, members, progress, sample_trips=()):
        self.keys = keys
        self.rounding = rounding
        self.members = members  # the payload members read so far
        self.progress = progress
        # leaf_index of each impact in payload order, NO_LEAF where absent or invalid.
        self.leaf_indices = array.array("Q")
        self.with_leaf_index = 0
        # trip_id -> (position, model_version, leaf_index, event_hash) for the sampled trips.
        self.sample_trips = frozenset(sample_trips)
        self.sampled = {}
        self.started = time.monotonic()
        self.count = 0
        self.failed = 0
        self.kinds = {}
        self.examples = []
        self.factor_sets = None  # from the payload's country_factors, at the first impact
        self.factors_missing = False
        # Totals in millionths: [impacts_count, distance, co2].
        self.totals = [0, 0, 0]
        self.by_country = {}
        self.factors_used = {}
        self.model_versions = set()
        self.last_trip_id = None
        self.order_problems = 0
        self.order_example = None
        self.digests = array.array("Q")
        self.earliest = None
        self.latest = None

    def _factor_sets(self):
        factors = self.members.get("country_factors")
        sets = {}
        if not isinstance(factors, dict):
            self.factors_missing = True
            return sets
        for country, entries in factors.items():
            if not isinstance(entries, list):
                continue
            sets[country] = {(e.get("methodology_version"), e.get("thermal_factor_local"),
                              e.get("ev_factor_local"))
                             for e in entries if isinstance(e, dict)}
        return sets

    def impact(self, impact):
        self.count += 1
        if self.factor_sets is None:
            self.factor_sets = self._factor_sets()
        if self.count % PROGRESS_EVERY == 0:
            self.progress("%d impacts checked (%.1f s)" % (
                self.count, time.monotonic() - self.started))
        if not isinstance(impact, dict):
            self.leaf_indices.append(NO_LEAF)  # positions stay aligned
            self._failure("#%d" % self.count, ["not an object"])
            return
        reasons = []
        trip_id = impact.get("trip_id")
        label = trip_id if isinstance(trip_id, str) else "#%d" % self.count
        keys = impact.keys()
        # v1's members, or v2's (v1's plus leaf_index); check_impacts matches the count of the
        # latter with the schema_version, which comes after the impacts.
        expected = IMPACT_FIELDS_V2 if "leaf_index" in keys else IMPACT_FIELDS
        if keys != expected:
            missing = sorted(expected - keys)
            extra = sorted(keys - expected)
            if missing:
                reasons.append("missing " + ",".join(missing))
            if extra:
                reasons.append("unexpected " + ",".join(extra))
        leaf_index = self._leaf_index(impact)
        if leaf_index is None and "leaf_index" in impact:
            reasons.append("leaf_index")
        bad = [name for name in IMPACT_STRINGS if not isinstance(impact.get(name), str)]
        if bad:
            reasons.append("not strings: " + ",".join(bad))
            self._failure(label, reasons)
            return
        if trip_id in self.sample_trips and trip_id not in self.sampled:
            self.sampled[trip_id] = (self.count - 1, impact["model_version"], leaf_index,
                                     impact["event_hash"])
        correlation_id = impact.get("correlation_id")
        if correlation_id is not None and not isinstance(correlation_id, str):
            reasons.append("correlation_id")
        seq = impact.get("ledger_seq")
        if type(seq) is not int or not 1 <= seq <= MAX_SAFE_INTEGER:
            reasons.append("ledger_seq")

        # Sorted and unique by trip_id (code point order, which is UTF-8 byte order).
        if self.last_trip_id is not None and trip_id <= self.last_trip_id:
            self.order_problems += 1
            if self.order_example is None:
                self.order_example = "%r follows %r" % (trip_id, self.last_trip_id)
        self.last_trip_id = trip_id
        self.digests.append(trip_digest(trip_id))

        decimals_ok = True
        for name in IMPACT_DECIMALS:
            if not is_six_decimals(impact[name]):
                reasons.append(name + " format")
                decimals_ok = False
        for name in ("event_timestamp", "created_at"):
            if not is_timestamp(impact[name]):
                reasons.append(name + " format")
        country = impact["country_code"]
        if not COUNTRY.match(country):
            reasons.append("country_code format")
        for name in ("event_hash", "checksum", "signature"):
            if not is_hex64(impact[name]):
                reasons.append(name + " format")
        if impact["signature_algorithm"] != "HMAC-SHA256":
            reasons.append("signature_algorithm")
        if impact["asym_algorithm"] != "ED25519":
            reasons.append("asym_algorithm")

        # event_hash and checksum, re-computed (SPEC section 5).
        event_hash = sha256_hex(canonical({k: impact[k] for k in EVENT_HASH_FIELDS}))
        if event_hash != impact["event_hash"]:
            reasons.append("event_hash")
        checksum = sha256_hex(canonical({
            "event_hash": impact["event_hash"], "trip_id": trip_id,
            "model_version": impact["model_version"], "country_code": country}))
        if checksum != impact["checksum"]:
            reasons.append("checksum")

        # co2_avoided_kg from the factors the payload declares (SPEC section 4).
        thermal, ev = impact["thermal_factor_local"], impact["ev_factor_local"]
        factors = (impact["methodology_version"], thermal, ev)
        if factors not in self.factor_sets.get(country, ()):
            reasons.append("factors not in payload country_factors")
        if decimals_ok:
            distance = micro(impact["distance_km"])
            if not 0 < distance <= MAX_DISTANCE_MICRO:
                reasons.append("distance_km out of (0, 10000]")
            if self.rounding.co2(impact["distance_km"], thermal, ev) != impact["co2_avoided_kg"]:
                reasons.append("co2_avoided_kg")
            co2 = micro(impact["co2_avoided_kg"])
            totals = self.by_country.get(country)
            if totals is None:
                totals = self.by_country[country] = [0, 0, 0]
            for t in (self.totals, totals):
                t[0] += 1
                t[1] += distance
                t[2] += co2
            self.factors_used.setdefault(country, set()).add(factors)
        self.model_versions.add(impact["model_version"])

        timestamp = impact["event_timestamp"]
        if self.earliest is None or timestamp < self.earliest[0]:
            self.earliest = (timestamp, trip_id)
        if self.latest is None or timestamp > self.latest[0]:
            self.latest = (timestamp, trip_id)

        # The Ed25519 signature of the event_hash, with the impact's own key version.
        problem = self.keys.verify(impact["asym_key_version"], impact["asym_signature"],
                                   impact["event_hash"].encode("ascii", "replace"))
        if problem is not None:
            reasons.append("asym_signature (%s)" % problem)
        if reasons:
            self._failure(label, reasons)

    def _leaf_index(self, impact):
        """Records the impact's leaf_index (log_binding judges them once the checkpoint is
        read); the value, or None when absent or not an integer in [0, 2^53 - 1]."""
        if "leaf_index" not in impact:
            self.leaf_indices.append(NO_LEAF)
            return None
        self.with_leaf_index += 1
        value = impact["leaf_index"]
        if type(value) is not int or not 0 <= value <= MAX_SAFE_INTEGER:
            self.leaf_indices.append(NO_LEAF)
            return None
        self.leaf_indices.append(value)
        return value

    def _failure(self, label, reasons):
        self.failed += 1
        for reason in reasons:
            kind = reason.split(" (")[0]
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append("%s: %s" % (label, "; ".join(reasons)))

    def aggregation(self):
        """The aggregation member the impacts add up to."""
        def block(t):
            return {"impacts_count": t[0], "total_co2_avoided_kg": from_micro(t[2]),
                    "total_distance_km": from_micro(t[1])}
        result = block(self.totals)
        result["by_country"] = {c: block(t) for c, t in self.by_country.items()}
        return result

    def country_factors(self):
        return {country: [{"ev_factor_local": e, "methodology_version": m,
                           "thermal_factor_local": t}
                          for (m, t, e) in sorted(pairs, key=factor_order)]
                for country, pairs in self.factors_used.items()}


class ArtifactScan:
    """Everything learnt from one pass over artifact.json."""

    def __init__(self):
        self.error = None  # why the scan stopped, if it did
        self.file_sha256 = None
        self.header = {}  # the artifact's members other than payload
        self.payload_seen = False
        self.payload_sha256 = None
        self.payload_bytes = 0
        self.members = {}  # payload members other than impacts
        self.member_order = []
        self.canonical_problems = []
        self.audit = None

    def canonical_problem(self, text):
        if len(self.canonical_problems) < MAX_EXAMPLES:
            self.canonical_problems.append(text)


def scan_artifact(path, keys, rounding, progress, chunk_bytes=None, sample_trips=()):
    scan = ArtifactScan()
    scan.audit = ImpactAudit(keys, rounding, scan.members, progress, sample_trips)
    try:
        f = open(path, "rb")
    except OSError as e:
        scan.error = "cannot open %s: %s" % (ARTIFACT, e.strerror or e)
        return scan
    with f:
        stream = JsonStream(f, chunk_bytes or CHUNK_BYTES)
        try:
            _scan_artifact_object(stream, scan)
        except ScanError as e:
            scan.error = str(e)
        except RecursionError:
            scan.error = "%s nests too deeply" % ARTIFACT
        try:
            scan.file_sha256 = stream.drain()
        except OSError as e:
            scan.error = scan.error or "cannot read %s: %s" % (ARTIFACT, e)
    return scan


def _scan_artifact_object(s, scan):
    """The artifact's top level may be formatted freely; only the payload must be canonical."""
    s.skip_whitespace()
    if s.char() != "{":
        raise ScanError("%s is not a JSON object" % ARTIFACT)
    s.skip_whitespace()
    if s.peek() == "}":
        s.char()
    else:
        while True:
            s.skip_whitespace()
            key, _ = s.value()
            if not isinstance(key, str):
                raise ScanError("an artifact member name is not a string at %s" % s.where())
            if key in scan.header or (key == "payload" and scan.payload_seen):
                raise ScanError("artifact member %r appears twice" % key)
            s.skip_whitespace()
            if s.char() != ":":
                raise ScanError("expected ':' at %s" % s.where())
            s.skip_whitespace()
            if key == "payload":
                scan.payload_seen = True
                _scan_payload(s, scan)
            else:
                scan.header[key], _ = s.value()
            s.skip_whitespace()
            c = s.char()
            if c == "}":
                break
            if c != ",":
                if c == "":
                    raise ScanError("unexpected end of %s" % ARTIFACT)
                raise ScanError("expected ',' or '}' at %s" % s.where())
    s.skip_whitespace()
    if s.peek() != "":
        raise ScanError("data after the artifact object at %s" % s.where())


def _scan_payload(s, scan):
    """Hashes the payload value's bytes and checks, member by member, that they are canonical."""
    if s.peek() != "{":
        raise ScanError("the payload is not a JSON object")
    s.start_payload_hash()
    s.char()
    previous = None
    if s.peek() == "}":
        s.char()
    else:
        while True:
            if s.peek() != '"':
                scan.canonical_problem("whitespace or a non-string key at %s" % s.where())
                s.skip_whitespace()
            key, text = s.value()
            if not isinstance(key, str):
                raise ScanError("a payload member name is not a string at %s" % s.where())
            if canonical_text(key) != text:
                scan.canonical_problem("member name %s is not written canonically" % text)
            if previous is not None and key <= previous:
                scan.canonical_problem("member %r follows %r (keys must be sorted and unique)"
                                       % (key, previous))
            previous = key
            scan.member_order.append(key)
            if s.peek() != ":":
                scan.canonical_problem("whitespace after member name %r" % key)
                s.skip_whitespace()
            if s.char() != ":":
                raise ScanError("expected ':' at %s" % s.where())
            if s.peek() in (" ", "\t", "\n", "\r"):
                scan.canonical_problem("whitespace before the value of %r" % key)
                s.skip_whitespace()
            if key == "impacts":
                if "impacts" in scan.members:
                    raise ScanError("payload member 'impacts' appears twice")
                scan.members["impacts"] = None  # seen; never kept
                _scan_impacts(s, scan)
            else:
                value, text = s.value()
                if canonical_text(value) != text:
                    scan.canonical_problem("member %r is not canonical JSON" % key)
                if not integers_in_range(value):
                    scan.canonical_problem("member %r holds an integer beyond 2^53-1" % key)
                scan.members[key] = value
            c = s.char()
            if c in (" ", "\t", "\n", "\r"):
                scan.canonical_problem("whitespace after the value of %r" % key)
                s.pos -= 1
                s.skip_whitespace()
                c = s.char()
            if c == "}":
                break
            if c != ",":
                if c == "":
                    raise ScanError("unexpected end of %s" % ARTIFACT)
                raise ScanError("expected ',' or '}' in the payload at %s" % s.where())
    scan.payload_sha256 = s.stop_payload_hash()
    scan.payload_bytes = s.payload_bytes


def _scan_impacts(s, scan):
    """`[impact,impact,...]`: each element decoded alone and checked, then dropped."""
    audit = scan.audit
    if s.char() != "[":
        raise ScanError("payload.impacts is not an array")
    if s.peek() == "]":
        s.char()
        return
    index = 0
    while True:
        if s.peek() in (" ", "\t", "\n", "\r"):
            scan.canonical_problem("whitespace in impacts before element #%d" % (index + 1))
            s.skip_whitespace()
        impact, text = s.value()
        index += 1
        if canonical_text(impact) != text:
            scan.canonical_problem("impact #%d (%s) is not canonical JSON" % (
                index, impact.get("trip_id") if isinstance(impact, dict) else "?"))
        audit.impact(impact)
        c = s.char()
        if c in (" ", "\t", "\n", "\r"):
            scan.canonical_problem("whitespace in impacts after element #%d" % index)
            s.pos -= 1
            s.skip_whitespace()
            c = s.char()
        if c == "]":
            return
        if c != ",":
            if c == "":
                raise ScanError("unexpected end of %s" % ARTIFACT)
            raise ScanError("expected ',' or ']' in payload.impacts at %s" % s.where())


# --------------------------------------------------------------------------------------------
# The checks


class Result:
    def __init__(self, name, status, detail):
        self.name, self.status, self.detail = name, status, detail


def ok(name, detail):
    return Result(name, "OK", detail)


def fail(name, problems):
    if isinstance(problems, str):
        problems = [problems]
    return Result(name, "FAIL", "; ".join(problems))


def short(hex_digest):
    return hex_digest[:16] + "..." if isinstance(hex_digest, str) else repr(hex_digest)


def window_of(period, period_end):
    """period_start of the calendar window `period` ending at `period_end`, or None."""
    months = {"3M": 3, "6M": 6, "12M": 12}.get(period)
    ends = {"3M": (1, 4, 7, 10), "6M": (1, 7), "12M": (1,)}.get(period)
    if months is None or not is_timestamp(period_end):
        return None
    year, month = int(period_end[0:4]), int(period_end[5:7])
    if month not in ends or period_end[7:] != "-01T00:00:00.000000Z":
        return None
    month -= months
    if month < 1:
        month += 12
        year -= 1
    return "%04d-%02d-01T00:00:00.000000Z" % (year, month)


class Archive:
    def __init__(self, root, progress=None, chunk_bytes=None):
        self.root = root
        self.progress = progress or (lambda message: None)
        self.chunk_bytes = chunk_bytes
        self.factory, self.backend = ed25519_backend()
        self.docs = {}
        self.errors = {}
        for name in (VERIFICATION, PUBLIC_KEY, PUBLIC_KEYS, METHODOLOGY, SUMS_SIG, LOG_KEY,
                     LOG_PROOFS):
            if name in LOG_FILES and not os.path.exists(self.path(name)):
                self.errors[name] = "%s missing" % name  # fine for a greenos.mrv.v1 export
                continue
            try:
                self.docs[name] = load_json_file(self.path(name))
            except (OSError, ValueError) as e:
                self.errors[name] = "%s unreadable: %s" % (name, getattr(e, "strerror", None)
                                                            or e)
        self.keys = None
        if PUBLIC_KEYS in self.docs:
            try:
                self.keys = KeyHistory(self.factory, self.docs[PUBLIC_KEYS])
            except ValueError as e:
                self.errors[PUBLIC_KEYS] = str(e)
        self.scan = None

    def path(self, name):
        return os.path.join(self.root, *name.split("/"))

    def sample_trips(self):
        """The trip_ids log_proofs.json proves, so that the scan keeps those impacts (none
        when the file is absent, unreadable or longer than any sample)."""
        doc = self.docs.get(LOG_PROOFS)
        proofs = doc.get("proofs") if isinstance(doc, dict) else None
        if not isinstance(proofs, list) or len(proofs) > MAX_SAMPLE:
            return ()
        return [p["trip_id"] for p in proofs
                if isinstance(p, dict) and isinstance(p.get("trip_id"), str)]

    def schema(self):
        """The payload's schema_version as read (None when the scan did not reach it)."""
        return self.scan.members.get("schema_version") if self.scan is not None else None

    def methodology_snapshot(self, version):
        """The registry row of `version` in methodology.json (a row, or the list route's body)."""
        doc = self.docs.get(METHODOLOGY)
        if isinstance(doc, dict) and isinstance(doc.get("methodologies"), list):
            rows = [m for m in doc["methodologies"]
                    if isinstance(m, dict) and m.get("methodology_version") == version]
            return rows[0] if rows else None
        return doc if isinstance(doc, dict) else None

    def run(self):
        keys = self.keys or KeyHistory(self.factory, {"keys": []})
        # The rounding rule comes from the snapshot; the snapshot is matched with the artifact's
        # methodology_version afterwards (methodology_hash).
        doc = self.docs.get(METHODOLOGY)
        snapshot = doc if isinstance(doc, dict) and "methodologies" not in doc else None
        if snapshot is None and isinstance(doc, dict):
            rows = [m for m in doc.get("methodologies") or [] if isinstance(m, dict)]
            active = [m for m in rows if m.get("status") == "ACTIVE"]
            snapshot = (active or rows or [None])[0]
        self.rounding = Rounding(snapshot.get("rounding") if isinstance(snapshot, dict)
                                 else None)
        self.scan = scan_artifact(self.path(ARTIFACT), keys, self.rounding, self.progress,
                                  self.chunk_bytes, self.sample_trips())
        version = self.scan.header.get("methodology_version")
        checks = [("manifest", self.check_manifest),
                  ("manifest_signature", self.check_manifest_signature),
                  ("key_fingerprints", self.check_key_fingerprints),
                  ("payload_hash", self.check_payload_hash),
                  ("export_signature", self.check_export_signature),
                  ("export_hmac", lambda: Result("export_hmac", "SKIP", HMAC_SKIP)),
                  ("impacts", self.check_impacts),
                  ("totals", self.check_totals),
                  ("non_double_counting_proof", self.check_proof),
                  ("methodology_hash", lambda: self.check_methodology(version)),
                  ("log_binding", self.check_log_binding),
                  ("log_key", self.check_log_key),
                  ("log_proofs", self.check_log_proofs),
                  ("verification_response", self.check_verification_response)]
        results = []
        for name, check in checks:
            try:
                results.append(check())
            except Exception as e:  # a malformed file must give a FAIL line, not a traceback
                results.append(fail(name, "could not be checked: %s: %s" % (
                    type(e).__name__, e)))
        return results

    # 1. manifest ----------------------------------------------------------------------------

    def check_manifest(self):
        name = "manifest"
        try:
            with open(self.path(SUMS), "rb") as f:
                sums = f.read()
        except OSError as e:
            return fail(name, "%s unreadable: %s" % (SUMS, e.strerror or e))
        problems = []
        listed = {}
        previous = None
        try:
            text = sums.decode("utf-8")
        except UnicodeDecodeError:
            return fail(name, "%s is not UTF-8" % SUMS)
        if text and not text.endswith("\n"):
            problems.append("%s does not end with a newline" % SUMS)
        line_format = re.compile(r"([0-9a-f]{64})  ([^\\\n]+)\Z")
        for number, line in enumerate(text.splitlines(), 1):
            match = line_format.match(line)
            if match is None:
                problems.append("%s line %d is not `<sha256 hex>  <name>`" % (SUMS, number))
                continue
            digest, file_name = match.groups()
            parts = file_name.split("/")
            if (file_name.startswith("/") or any(p in ("", ".", "..") for p in parts)
                    or file_name in (SUMS, SUMS_SIG)):
                problems.append("%s lists %r, which is not a file of the archive" % (
                    SUMS, file_name))
                continue
            if file_name in listed:
                problems.append("%s lists %s twice" % (SUMS, file_name))
            elif previous is not None and file_name < previous:
                problems.append("%s is not sorted by name (%s after %s)" % (
                    SUMS, file_name, previous))
            previous = file_name
            listed[file_name] = digest
        required_files = REQUIRED_FILES + (LOG_FILES if self.schema() == SCHEMA_V2 else ())
        for required in required_files:
            if required not in listed:
                problems.append("%s does not list %s" % (SUMS, required))
        mismatched = []
        for file_name, digest in listed.items():
            if file_name == ARTIFACT and self.scan is not None \
                    and self.scan.file_sha256 is not None:
                actual = self.scan.file_sha256
            else:
                actual = file_sha256(self.path(file_name))
            if actual is None:
                problems.append("%s is listed but missing" % file_name)
            elif actual != digest:
                mismatched.append(file_name)
        if mismatched:
            problems.append("SHA-256 differs from %s for %s" % (SUMS, ", ".join(mismatched)))
        unlisted = [f for f in archive_files(self.root)
                    if f not in listed and f not in (SUMS, SUMS_SIG)]
        if unlisted:
            problems.append("files not in %s: %s" % (SUMS, ", ".join(unlisted)))
        sig = self.docs.get(SUMS_SIG)
        sums_hex = sha256_hex(sums)
        if sig is None:
            problems.append(self.errors.get(SUMS_SIG, "%s missing" % SUMS_SIG))
        elif not isinstance(sig, dict) or sig.get("message") != sums_hex:
            problems.append("%s's message is not the SHA-256 of %s (%s)" % (
                SUMS_SIG, SUMS, short(sums_hex)))
        if problems:
            return fail(name, problems)
        return ok(name, "%d files match %s (sha256 %s)" % (len(listed), SUMS, short(sums_hex)))

    # 2. manifest_signature ------------------------------------------------------------------

    def check_manifest_signature(self):
        name = "manifest_signature"
        sig = self.docs.get(SUMS_SIG)
        if not isinstance(sig, dict):
            return fail(name, self.errors.get(SUMS_SIG, "%s is not a JSON object" % SUMS_SIG))
        if self.keys is None:
            return fail(name, self.errors.get(PUBLIC_KEYS, "no key history"))
        try:
            with open(self.path(SUMS), "rb") as f:
                sums_hex = sha256_hex(f.read())
        except OSError as e:
            return fail(name, "%s unreadable: %s" % (SUMS, e.strerror or e))
        problems = []
        if sig.get("algorithm") != "ED25519":
            problems.append("algorithm is %r, not ED25519" % sig.get("algorithm"))
        version = sig.get("key_version")
        # The signature must cover the SHA256SUMS the archive holds, whatever `message` says.
        problem = self.keys.verify(version, sig.get("signature"), sums_hex.encode("ascii"))
        if problem:
            problems.append(problem)
        if problems:
            return fail(name, problems)
        return ok(name, "Ed25519 signature of the SHA-256 of %s verifies with key %s" % (
            SUMS, version))

    # 3. key_fingerprints --------------------------------------------------------------------

    def check_key_fingerprints(self):
        name = "key_fingerprints"
        problems = []
        if self.keys is None:
            problems.append(self.errors.get(PUBLIC_KEYS, "no key history"))
            history = {}
        else:
            problems.extend(self.keys.problems)
            history = self.keys.payloads
        active = self.docs.get(PUBLIC_KEY)
        if active is None:
            problems.append(self.errors.get(PUBLIC_KEY, "%s missing" % PUBLIC_KEY))
        entries = [(PUBLIC_KEYS, p) for p in history.values()]
        if isinstance(active, dict):
            entries.append((PUBLIC_KEY, active))
        elif active is not None:
            problems.append("%s is not a JSON object" % PUBLIC_KEY)
        for source, entry in entries:
            version = entry.get("key_version")
            try:
                raw = b64decode_strict(entry.get("public_key"))
            except Exception:
                problems.append("%s key %s: public_key is not standard base64" % (
                    source, version))
                continue
            if len(raw) != 32:
                problems.append("%s key %s: %d bytes, not 32" % (source, version, len(raw)))
            elif _point_decode(raw) is None:
                problems.append("%s key %s: not an Ed25519 point" % (source, version))
            if sha256_hex(raw) != entry.get("fingerprint_sha256"):
                problems.append("%s key %s: fingerprint_sha256 is not the SHA-256 of the key"
                                % (source, version))
            if entry.get("signature_algorithm") != "ED25519" or \
                    entry.get("encoding") != "base64":
                problems.append("%s key %s: not an ED25519/base64 key payload" % (
                    source, version))
        if isinstance(active, dict):
            version = active.get("key_version")
            listed = history.get(version)
            if listed is None:
                problems.append("the active key %s is not in %s" % (version, PUBLIC_KEYS))
            elif (listed.get("public_key"), listed.get("fingerprint_sha256")) != (
                    active.get("public_key"), active.get("fingerprint_sha256")):
                problems.append("the active key %s differs from %s's %s" % (
                    version, PUBLIC_KEYS, version))
            declared = self.docs.get(PUBLIC_KEYS, {})
            if isinstance(declared, dict) and "active_key_version" in declared \
                    and declared["active_key_version"] != version:
                problems.append("%s names %r active, %s %r" % (
                    PUBLIC_KEYS, declared["active_key_version"], PUBLIC_KEY, version))
        if problems:
            return fail(name, problems)
        return ok(name, "%d key(s) in the history; active %s, fingerprint %s (compare it with "
                        "the fingerprint the operator publishes)" % (
                            len(history), active.get("key_version"),
                            active.get("fingerprint_sha256")))

    # 4. payload_hash ------------------------------------------------------------------------

    def check_payload_hash(self):
        name = "payload_hash"
        scan = self.scan
        header = scan.header
        if scan.error:
            return fail(name, scan.error)
        if not scan.payload_seen:
            return fail(name, "%s has no payload" % ARTIFACT)
        problems = []
        declared = header.get("verification_hash")
        if not is_hex64(declared):
            problems.append("verification_hash is not 64 lowercase hex characters")
        elif scan.payload_sha256 != declared:
            problems.append("the payload hashes to %s, verification_hash is %s" % (
                short(scan.payload_sha256), short(declared)))
        if scan.canonical_problems:
            problems.append("the payload is not canonical JSON: " +
                            ", ".join(scan.canonical_problems))
        m = scan.members
        schema = m.get("schema_version")
        if schema not in SCHEMA_VERSIONS:
            problems.append("schema_version is %r; this verifier checks %s" % (
                schema, " and ".join(SCHEMA_VERSIONS)))
        # v1's members exactly, or v2's (v1's plus log_checkpoint) when the schema says v2.
        known = schema if schema in SCHEMA_VERSIONS else SCHEMA_V1
        expected = PAYLOAD_MEMBERS_BY_SCHEMA[known]
        members = set(m)
        if members != expected:
            missing = sorted(expected - members)
            extra = sorted(members - expected)
            problems.append("payload members differ from %s: missing %s, unexpected %s" % (
                known, missing, extra))
        if not is_timestamp(m.get("generated_at")):
            problems.append("generated_at is not a timestamp")
        period, start, end = m.get("period"), m.get("period_start"), m.get("period_end")
        if window_of(period, end) != start or not is_timestamp(start):
            problems.append("period %r does not span [%s, %s) on calendar boundaries" % (
                period, start, end))
        for key in ("period", "period_start", "period_end"):
            if header.get(key) != m.get(key):
                problems.append("the artifact's %s %r differs from the payload's %r" % (
                    key, header.get(key), m.get(key)))
        if problems:
            return fail(name, problems)
        return ok(name, "sha256 %s over %d canonical bytes equals verification_hash (%s)" % (
            short(scan.payload_sha256), scan.payload_bytes, m.get("schema_version")))

    # 5. export_signature --------------------------------------------------------------------

    def check_export_signature(self):
        name = "export_signature"
        header = self.scan.header
        if self.keys is None:
            return fail(name, self.errors.get(PUBLIC_KEYS, "no key history"))
        declared = header.get("verification_hash")
        if not is_hex64(declared):
            return fail(name, "verification_hash missing or malformed")
        problems = []
        if header.get("asym_algorithm") != "ED25519":
            problems.append("asym_algorithm is %r, not ED25519" % header.get("asym_algorithm"))
        if header.get("signature_algorithm") != "HMAC-SHA256":
            problems.append("signature_algorithm is %r, not HMAC-SHA256" % header.get(
                "signature_algorithm"))
        version = header.get("asym_key_version")
        problem = self.keys.verify(version, header.get("asym_signature"),
                                   declared.encode("ascii"))
        if problem:
            problems.append(problem)
        if problems:
            return fail(name, problems)
        return ok(name, "Ed25519 signature of verification_hash verifies with key %s" % version)

    # 6. impacts -----------------------------------------------------------------------------

    def check_impacts(self):
        name = "impacts"
        scan = self.scan
        audit = scan.audit
        problems = []
        if scan.error:
            problems.append("stopped after %d impacts: %s" % (audit.count, scan.error))
        elif "impacts" not in scan.members:
            problems.append("the payload has no impacts array")
        if audit.factors_missing and audit.count:
            problems.append("no payload country_factors before the impacts")
        if audit.failed:
            kinds = ", ".join("%s x%d" % kv for kv in sorted(audit.kinds.items()))
            problems.append("%d of %d impacts failed (%s); first: %s" % (
                audit.failed, audit.count, kinds, " | ".join(audit.examples)))
        # Impacts have leaf_index in v2 only (the schema_version follows them).
        schema = scan.members.get("schema_version")
        if not scan.error and schema == SCHEMA_V2 and audit.with_leaf_index != audit.count:
            problems.append("%d of %d impacts lack the leaf_index %s requires" % (
                audit.count - audit.with_leaf_index, audit.count, SCHEMA_V2))
        elif not scan.error and schema == SCHEMA_V1 and audit.with_leaf_index:
            problems.append("%d impacts carry a leaf_index, which %s has not" % (
                audit.with_leaf_index, SCHEMA_V1))
        start, end = scan.members.get("period_start"), scan.members.get("period_end")
        if audit.count and isinstance(start, str) and isinstance(end, str):
            if audit.earliest[0] < start:
                problems.append("impact %s lies before period_start (%s)" % (
                    audit.earliest[1], audit.earliest[0]))
            if audit.latest[0] >= end:
                problems.append("impact %s lies at or after period_end (%s)" % (
                    audit.latest[1], audit.latest[0]))
        if problems:
            return fail(name, problems)
        rounding = "rounding %s" % self.rounding.rule
        if not self.rounding.understood:
            rounding = ("rounding rule %r not recognised: SPEC section 4's half-even to 6 "
                        "decimals applied" % (self.rounding.rule,))
        return ok(name, "%d impacts: event_hash, checksum, co2_avoided_kg (%s), factors, "
                        "window and Ed25519 signatures verified" % (audit.count, rounding))

    # 7. totals ------------------------------------------------------------------------------

    def check_totals(self):
        name = "totals"
        scan = self.scan
        audit = scan.audit
        if scan.error:
            return fail(name, "not re-summed: " + scan.error)
        problems = []
        declared = scan.members.get("aggregation")
        computed = audit.aggregation()
        if not isinstance(declared, dict):
            problems.append("the payload has no aggregation object")
        elif declared != computed:
            for key in sorted(set(declared) | set(computed)):
                if key == "by_country":
                    continue
                if declared.get(key) != computed.get(key):
                    problems.append("%s is %r, the impacts sum to %r" % (
                        key, declared.get(key), computed.get(key)))
            by_declared = declared.get("by_country")
            by_computed = computed["by_country"]
            if not isinstance(by_declared, dict):
                problems.append("by_country is not an object")
            else:
                for country in sorted(set(by_declared) | set(by_computed)):
                    if by_declared.get(country) != by_computed.get(country):
                        problems.append("by_country.%s is %s, the impacts sum to %s" % (
                            country, canonical_text(by_declared.get(country)),
                            canonical_text(by_computed.get(country))))
        if scan.members.get("country_factors") != audit.country_factors():
            problems.append("country_factors differ from the factors the impacts used: %s" %
                            canonical_text(audit.country_factors()))
        versions = sorted(audit.model_versions)
        if scan.members.get("model_versions") != versions:
            problems.append("model_versions is %r, the impacts have %r" % (
                scan.members.get("model_versions"), versions))
        if problems:
            return fail(name, problems)
        return ok(name, "%d impacts, %s km, %s kg CO2 avoided, %d countries; country_factors "
                        "and model_versions match the impacts" % (
                            computed["impacts_count"], computed["total_distance_km"],
                            computed["total_co2_avoided_kg"], len(computed["by_country"])))

    # 8. non_double_counting_proof -----------------------------------------------------------

    def check_proof(self):
        name = "non_double_counting_proof"
        scan = self.scan
        audit = scan.audit
        if scan.error:
            return fail(name, "not checked: " + scan.error)
        proof = scan.members.get("non_double_counting_proof")
        if not isinstance(proof, dict):
            return fail(name, "the payload has no non_double_counting_proof object")
        problems = []
        if set(proof) != PROOF_FIELDS:
            problems.append("proof fields differ: missing %s, unexpected %s" % (
                sorted(PROOF_FIELDS - set(proof)), sorted(set(proof) - PROOF_FIELDS)))
        without = {k: v for k, v in proof.items() if k != "proof_hash"}
        recomputed = sha256_hex(canonical(without))
        if proof.get("proof_hash") != recomputed:
            problems.append("proof_hash is %s, the proof hashes to %s" % (
                short(proof.get("proof_hash")), short(recomputed)))
        if proof.get("deduplication_rule") != DEDUPLICATION_RULE or \
                proof.get("double_counting_blocked") is not True:
            problems.append("the proof does not state %s with double_counting_blocked true"
                            % DEDUPLICATION_RULE)
        if audit.order_problems:
            problems.append("impacts are not sorted and unique by trip_id (%d times; first: "
                            "%s)" % (audit.order_problems, audit.order_example))

        def count(key):
            value = proof.get(key)
            return value if type(value) is int and value >= 0 else None

        frequencies = proof.get("duplicate_trip_frequencies")
        ids = proof.get("duplicate_trip_ids")
        removed = None
        if not isinstance(frequencies, dict) or not all(
                type(n) is int and n >= 2 for n in frequencies.values()):
            problems.append("duplicate_trip_frequencies must map trip_ids to counts >= 2")
        else:
            removed = sum(n - 1 for n in frequencies.values())
            if ids != sorted(frequencies):
                problems.append("duplicate_trip_ids are not the sorted keys of "
                                "duplicate_trip_frequencies")
            # Every duplicated trip kept one row, so it is among the impacts.
            wanted = {trip_digest(t): t for t in frequencies}
            absent = set(wanted) - set(wanted).intersection(audit.digests)
            if absent:
                problems.append("duplicated trips absent from the impacts: %s" % ", ".join(
                    sorted(wanted[d] for d in absent)[:MAX_EXAMPLES]))
        raw, selected = count("raw_impacts_count"), count("selected_impacts_count")
        declared_removed = count("duplicates_removed_count")
        if declared_removed is None or declared_removed != removed:
            problems.append("duplicates_removed_count is %r, the frequencies give %r" % (
                proof.get("duplicates_removed_count"), removed))
        if selected != audit.count:
            problems.append("selected_impacts_count is %r, the payload has %d impacts" % (
                proof.get("selected_impacts_count"), audit.count))
        aggregation = scan.members.get("aggregation")
        if isinstance(aggregation, dict) and aggregation.get("impacts_count") != selected:
            problems.append("selected_impacts_count differs from aggregation.impacts_count")
        if raw is None or selected is None or declared_removed is None or \
                raw != selected + declared_removed:
            problems.append("raw_impacts_count %r is not selected %r + removed %r" % (
                proof.get("raw_impacts_count"), proof.get("selected_impacts_count"),
                proof.get("duplicates_removed_count")))
        if problems:
            return fail(name, problems)
        return ok(name, "%d unique trip_ids in order; %d raw rows, %d duplicates removed "
                        "(%d trips); proof_hash %s" % (
                            audit.count, raw, declared_removed, len(frequencies),
                            short(recomputed)))

    # 9. methodology_hash --------------------------------------------------------------------

    def check_methodology(self, version):
        name = "methodology_hash"
        if METHODOLOGY in self.errors:
            return fail(name, self.errors[METHODOLOGY])
        snapshot = self.methodology_snapshot(version)
        if snapshot is None:
            return fail(name, "%s holds no methodology %r" % (METHODOLOGY, version))
        hashed_fields = ("methodology_version", "baseline_reference", "factor_references",
                         "geographic_scope", "country_factors", "formula", "rounding")
        missing = [k for k in hashed_fields if k not in snapshot]
        if missing:
            return fail(name, "the snapshot lacks %s" % ", ".join(missing))
        problems = []
        recomputed = sha256_hex(canonical({k: snapshot[k] for k in hashed_fields}))
        header = self.scan.header
        binding = self.scan.members.get("methodology")
        if self.scan.error and not isinstance(binding, dict):
            # The payload could not be read as far as its binding: judge the snapshot alone.
            problems.append("the payload's binding was not read (%s)" % self.scan.error)
            binding = {k: snapshot.get(k) for k in (
                "baseline_reference", "factor_references", "geographic_scope",
                "methodology_hash", "methodology_version")}
        elif not isinstance(binding, dict):
            problems.append("the payload has no methodology binding")
            binding = {}
        declared = [(source, value) for source, value in (
            ("the snapshot", snapshot.get("methodology_hash")),
            ("the artifact", header.get("methodology_hash")),
            ("the payload", binding.get("methodology_hash"))) if value != recomputed]
        if declared:
            problems.append("the snapshot hashes to %s, but %s" % (short(recomputed), ", ".join(
                "%s declares %s" % (source, short(value)) for source, value in declared)))
        snapshot_version = snapshot.get("methodology_version")
        for source, value in (("artifact", header.get("methodology_version")),
                              ("payload", binding.get("methodology_version"))):
            if value != snapshot_version:
                problems.append("the %s binds methodology %r, the snapshot is %r" % (
                    source, value, snapshot_version))
        for key in ("baseline_reference", "factor_references", "geographic_scope"):
            if binding.get(key) != snapshot.get(key):
                problems.append("the payload's methodology.%s differs from the snapshot's" % key)
        if set(binding) - {"baseline_reference", "factor_references", "geographic_scope",
                           "methodology_hash", "methodology_version"}:
            problems.append("the payload's methodology block has unexpected members")
        problems.extend(methodology_rules(snapshot))
        # The payload's factors of the bound version are the snapshot's.
        factors = snapshot.get("country_factors")
        payload_factors = self.scan.members.get("country_factors")
        if isinstance(factors, dict) and isinstance(payload_factors, dict):
            for country in sorted(payload_factors):
                entries = payload_factors[country]
                for entry in entries if isinstance(entries, list) else []:
                    if not isinstance(entry, dict) or \
                            entry.get("methodology_version") != snapshot_version:
                        continue
                    declared = factors.get(country)
                    if not isinstance(declared, dict) or (
                            entry.get("thermal_factor_local"), entry.get("ev_factor_local")) != (
                            declared.get("thermal_factor_local"), declared.get("ev_factor_local")):
                        problems.append("the payload's %s factors of %s differ from the snapshot's"
                                        % (country, snapshot_version))
        if problems:
            return fail(name, problems)
        return ok(name, "%s hashes to %s, as the snapshot, the artifact and the payload "
                        "declare; binding and factors agree" % (snapshot_version,
                                                                 short(recomputed)))

    # 10-12. the transparency log (greenos.mrv.v2) -----------------------------------------

    def log_checkpoint(self, name):
        """(the payload's log_checkpoint, None), or (None, the Result of `name` when there is
        none to check against: SKIP for a v1 export, else FAIL)."""
        scan = self.scan
        if scan.error:
            return None, fail(name, "not checked: " + scan.error)
        schema = scan.members.get("schema_version")
        if schema == SCHEMA_V1:
            return None, Result(name, "SKIP", LOG_V1_SKIP)
        if schema != SCHEMA_V2:
            return None, fail(name, "schema_version %r is neither %s" % (
                schema, " nor ".join(SCHEMA_VERSIONS)))
        checkpoint = scan.members.get("log_checkpoint")
        if not isinstance(checkpoint, dict):
            return None, fail(name, "the %s payload has no log_checkpoint object" % SCHEMA_V2)
        problems = []
        if set(checkpoint) != LOG_CHECKPOINT_FIELDS:
            problems.append("log_checkpoint's members differ: missing %s, unexpected %s" % (
                sorted(LOG_CHECKPOINT_FIELDS - set(checkpoint)),
                sorted(set(checkpoint) - LOG_CHECKPOINT_FIELDS)))
        if not is_note_name(checkpoint.get("origin")):
            problems.append("log_checkpoint.origin %r is not a log name (no spaces, no `+`)"
                            % (checkpoint.get("origin"),))
        size = checkpoint.get("tree_size")
        if type(size) is not int or not 0 <= size <= MAX_SAFE_INTEGER:
            problems.append("log_checkpoint.tree_size %r is not a count" % (size,))
        if not is_hex64(checkpoint.get("root_hash")):
            problems.append("log_checkpoint.root_hash is not 64 lowercase hex characters")
        if not isinstance(checkpoint.get("note"), str):
            problems.append("log_checkpoint.note is not a string")
        if problems:
            return None, fail(name, problems)
        return checkpoint, None

    def check_log_binding(self):
        """Every impact on its own leaf of the checkpointed tree, and the checkpoint signed."""
        name = "log_binding"
        checkpoint, result = self.log_checkpoint(name)
        if result is not None:
            return result
        audit = self.scan.audit
        origin, size = checkpoint["origin"], checkpoint["tree_size"]
        root_hash, note = checkpoint["root_hash"], checkpoint["note"]
        problems = []
        absent = audit.leaf_indices.count(NO_LEAF)
        if absent:
            problems.append("%d of %d impacts have no valid leaf_index" % (absent, audit.count))
        outside, outside_example, repeated, repeated_example = leaf_index_problems(
            audit.leaf_indices, size)
        if outside:
            problems.append("%d leaf_index values are not below tree_size %d (first: %s)" % (
                outside, size, outside_example))
        if repeated:
            problems.append("%d impacts share a leaf_index with another (first: %s)" % (
                repeated, repeated_example))
        if size == 0 and root_hash != EMPTY_TREE_ROOT:
            problems.append("tree_size is 0 but root_hash is not the empty tree's")
        # The note signs exactly the checkpoint text of origin, tree_size and root_hash.
        expected = checkpoint_text(origin, size, root_hash)
        parsed = split_signed_note(note)
        signers = []
        if isinstance(parsed, str):
            problems.append(parsed)
        else:
            if parsed[0] != expected:
                problems.append("the note's signed text %r is not the checkpoint of "
                                "log_checkpoint's origin, tree_size and root_hash (%r)" % (
                                    parsed[0][:300], expected))
            if self.keys is None:
                problems.append(self.errors.get(PUBLIC_KEYS, "no key history"))
            else:
                signers, signature_problems = verify_signed_note(note, origin, self.keys)
                problems.extend(signature_problems)
        # log_checkpoint.txt is the very same note.
        try:
            with open(self.path(LOG_CHECKPOINT), "rb") as f:
                if f.read() != note.encode("utf-8"):
                    problems.append("%s differs from the payload's log_checkpoint.note" %
                                    LOG_CHECKPOINT)
        except OSError as e:
            problems.append("%s unreadable: %s" % (LOG_CHECKPOINT, e.strerror or e))
        if problems:
            return fail(name, problems)
        return ok(name, "%d impacts on distinct leaves below tree_size %d; the checkpoint of %s "
                        "(root %s) is signed by key %s; %s is the same note" % (
                            audit.count, size, origin, short(root_hash), ", ".join(signers),
                            LOG_CHECKPOINT))

    def check_log_key(self):
        """log_key.json names the checkpoint's log and a key of the key history."""
        name = "log_key"
        checkpoint, result = self.log_checkpoint(name)
        if result is not None:
            return result
        doc = self.docs.get(LOG_KEY)
        if not isinstance(doc, dict):
            return fail(name, self.errors.get(LOG_KEY, "%s is not a JSON object" % LOG_KEY))
        problems = []
        if set(doc) != LOG_KEY_FIELDS:
            problems.append("%s's members differ: missing %s, unexpected %s" % (
                LOG_KEY, sorted(LOG_KEY_FIELDS - set(doc)), sorted(set(doc) - LOG_KEY_FIELDS)))
        origin = doc.get("origin")
        if origin != checkpoint["origin"]:
            problems.append("%s names the log %r, the payload's checkpoint %r" % (
                LOG_KEY, origin, checkpoint["origin"]))
        version = doc.get("key_version")
        raw = None
        try:
            raw = b64decode_strict(doc.get("public_key"))
            if len(raw) != 32:
                problems.append("%s's public_key is %d bytes, not 32" % (LOG_KEY, len(raw)))
                raw = None
        except ValueError:
            problems.append("%s's public_key is not standard base64" % LOG_KEY)
        key_id = None
        if raw is not None:
            if doc.get("fingerprint_sha256") != sha256_hex(raw):
                problems.append("%s's fingerprint_sha256 is not the SHA-256 of its public_key"
                                % LOG_KEY)
            if is_note_name(origin):
                key_id = note_key_id(origin, raw).hex()
                if doc.get("verifier_key") != note_verifier_key(origin, raw):
                    problems.append("%s's verifier_key %r is not %s" % (
                        LOG_KEY, doc.get("verifier_key"), note_verifier_key(origin, raw)))
            else:
                problems.append("%s's origin %r is not a log name" % (LOG_KEY, origin))
        history = self.keys.payloads if self.keys is not None else {}
        if self.keys is None:
            problems.append(self.errors.get(PUBLIC_KEYS, "no key history"))
        elif version not in history:
            problems.append("%s's key_version %r is not in %s" % (LOG_KEY, version,
                                                                   PUBLIC_KEYS))
        elif (history[version].get("public_key"), history[version].get("fingerprint_sha256")) \
                != (doc.get("public_key"), doc.get("fingerprint_sha256")):
            problems.append("%s's key %s differs from %s's %s" % (LOG_KEY, version,
                                                                  PUBLIC_KEYS, version))
        if problems:
            return fail(name, problems)
        return ok(name, "log %s, key %s (key id %s, fingerprint %s): verifier_key %s agrees "
                        "with the key history" % (origin, version, key_id,
                                                  short(doc.get("fingerprint_sha256")),
                                                  doc.get("verifier_key")))

    def check_log_proofs(self):
        """log_proofs.json proves the deterministic sample of the impacts in the checkpoint."""
        name = "log_proofs"
        checkpoint, result = self.log_checkpoint(name)
        if result is not None:
            return result
        doc = self.docs.get(LOG_PROOFS)
        if not isinstance(doc, dict):
            return fail(name, self.errors.get(LOG_PROOFS, "%s is not a JSON object" %
                                              LOG_PROOFS))
        audit = self.scan.audit
        size, root_hash = checkpoint["tree_size"], checkpoint["root_hash"]
        problems = []
        if set(doc) != {"proofs", "root_hash", "tree_size"}:
            problems.append("%s's members differ from proofs, root_hash, tree_size" %
                            LOG_PROOFS)
        if type(doc.get("tree_size")) is not int or doc.get("tree_size") != size:
            problems.append("%s's tree_size %r is not the checkpoint's %d" % (
                LOG_PROOFS, doc.get("tree_size"), size))
        if doc.get("root_hash") != root_hash:
            problems.append("%s's root_hash %s is not the checkpoint's %s" % (
                LOG_PROOFS, short(doc.get("root_hash")), short(root_hash)))
        proofs = doc.get("proofs")
        if not isinstance(proofs, list):
            return fail(name, problems + ["%s has no proofs list" % LOG_PROOFS])
        expected = sample_positions(audit.count)
        if len(proofs) > MAX_SAMPLE:
            return fail(name, problems + ["%s holds %d proofs, a sample at most %d" % (
                LOG_PROOFS, len(proofs), MAX_SAMPLE)])
        root = bytes.fromhex(root_hash)
        fields = {"event_hash", "leaf_index", "model_version", "proof", "trip_id"}
        positions, mismatched, unproved = [], [], []
        for k, entry in enumerate(proofs):
            if not isinstance(entry, dict) or set(entry) != fields:
                mismatched.append("proofs[%d] does not have exactly %s" % (
                    k, ", ".join(sorted(fields))))
                positions.append(None)
                continue
            trip_id = entry["trip_id"]
            found = audit.sampled.get(trip_id) if isinstance(trip_id, str) else None
            event_hash, leaf_index = entry["event_hash"], entry["leaf_index"]
            if found is None:
                mismatched.append("proofs[%d]: trip %r is not among the impacts" % (k, trip_id))
                positions.append(None)
            else:
                position, model_version, payload_leaf, payload_hash = found
                positions.append(position)
                differ = [f for f, v in (("model_version", model_version),
                                         ("leaf_index", payload_leaf),
                                         ("event_hash", payload_hash)) if entry[f] != v]
                if differ:
                    mismatched.append("proofs[%d] (%s): %s %s from the impact's" % (
                        k, trip_id, ", ".join(differ), "differs" if len(differ) == 1
                        else "differ"))
                # What must be in the log is the impact as the payload has it.
                if payload_leaf is not None and is_hex64(payload_hash):
                    event_hash, leaf_index = payload_hash, payload_leaf
            hashes = entry["proof"]
            try:
                path = [b64decode_strict(h) for h in hashes] if isinstance(hashes, list) \
                    and len(hashes) <= 64 else None
            except ValueError:
                path = None
            if path is None or any(len(h) != 32 for h in path) or not is_hex64(event_hash) \
                    or type(leaf_index) is not int:
                unproved.append("proofs[%d] (%r) is not a list of base64 32-byte hashes for "
                                "a hex event_hash and an integer leaf_index" % (k, trip_id))
            elif not verify_inclusion(log_leaf_hash(event_hash), leaf_index, size, path, root):
                unproved.append("proofs[%d] (%s, leaf %d) does not prove its leaf in the tree "
                                "of %d leaves with root %s" % (k, trip_id, leaf_index, size,
                                                                short(root_hash)))
        if positions != expected:
            wanted = set(expected)
            got = set(p for p in positions if p is not None)
            missing = [p for p in expected if p not in got]
            extra = sorted(p for p in got if p not in wanted)
            if missing:
                problems.append("%d sample positions (0-based, of %d impacts) have no proof: %s"
                                % (len(missing), audit.count,
                                   ", ".join(map(str, missing[:MAX_EXAMPLES]))))
            if extra:
                problems.append("proofs of impacts outside the sample, at positions %s" %
                                ", ".join(map(str, extra[:MAX_EXAMPLES])))
            if not missing and not extra and None not in positions:
                problems.append("the proofs are not the sample in payload order")
        for kind, items in (("proofs do not match the payload's impacts", mismatched),
                            ("proofs do not verify", unproved)):
            if items:
                problems.append("%d %s: %s" % (len(items), kind,
                                               " | ".join(items[:MAX_EXAMPLES])))
        if problems:
            return fail(name, problems)
        return ok(name, "%d inclusion proofs (the sample of %d impacts) verify against root %s "
                        "of tree_size %d" % (len(proofs), audit.count, short(root_hash), size))

    # 13. verification_response -------------------------------------------------------------

    def check_verification_response(self):
        name = "verification_response"
        doc = self.docs.get(VERIFICATION)
        if not isinstance(doc, dict):
            return fail(name, self.errors.get(VERIFICATION, "%s is not a JSON object" %
                                              VERIFICATION))
        header = self.scan.header
        problems = []
        error = doc.get("error")
        if isinstance(error, dict):
            # A failed verdict is kept as the service answered it: the error envelope.
            problems.append("the service answered %s: %s" % (error.get("code"),
                                                             error.get("message")))
            details = error.get("details")
            doc = details if isinstance(details, dict) else {}
        if doc.get("verified") is not True:
            problems.append("verified is %r%s" % (doc.get("verified"), (
                " (" + "; ".join(map(str, doc.get("problems")))[:300] + ")"
                if isinstance(doc.get("problems"), list) else "")))
        for flag in ("hash_valid", "signature_valid", "asym_signature_valid",
                     "methodology_valid", "proof_valid"):
            if flag in doc and doc[flag] is not True:
                problems.append("%s is %r" % (flag, doc[flag]))
        for key in ("export_id", "verification_hash", "methodology_version", "methodology_hash",
                    "key_version", "asym_key_version"):
            if key in ("export_id", "verification_hash") and key not in doc:
                problems.append("%s names no %s" % (VERIFICATION, key))
            elif key in doc and doc[key] != header.get(key):
                problems.append("%s is %r, the artifact's is %r" % (
                    key, doc[key], header.get(key)))
        recomputed = doc.get("recomputed_verification_hash")
        if "recomputed_verification_hash" in doc and recomputed != header.get(
                "verification_hash"):
            problems.append("recomputed_verification_hash differs from verification_hash")
        size = doc.get("payload_size_bytes")
        if size is not None and self.scan.payload_seen and not self.scan.error and \
                size != self.scan.payload_bytes:
            problems.append("payload_size_bytes is %r, the payload has %d bytes" % (
                size, self.scan.payload_bytes))
        if problems:
            return fail(name, problems)
        return ok(name, "the service verified export %s with hash %s" % (
            doc.get("export_id"), short(doc.get("verification_hash"))))


def methodology_rules(snapshot):
    """SPEC section 7's validation, re-checked on the snapshot."""
    problems = []
    scope = snapshot.get("geographic_scope")
    factors = snapshot.get("country_factors")
    if not isinstance(scope, list) or not scope or not all(
            isinstance(c, str) and COUNTRY.match(c) for c in scope) or scope != sorted(
                set(scope)):
        problems.append("the snapshot's geographic_scope is not a sorted list of ISO codes")
        scope = []
    if not isinstance(factors, dict):
        return problems + ["the snapshot's country_factors is not an object"]
    if sorted(factors) != scope:
        problems.append("the snapshot's country_factors do not cover exactly its scope")
    for country, pair in sorted(factors.items()):
        thermal = pair.get("thermal_factor_local") if isinstance(pair, dict) else None
        ev = pair.get("ev_factor_local") if isinstance(pair, dict) else None
        if not (is_six_decimals(thermal) and is_six_decimals(ev)) or micro(thermal) <= 0 \
                or micro(ev) < 0:
            problems.append("the snapshot's %s factors are invalid" % country)
    for key in ("baseline_reference", "formula", "rounding"):
        if not isinstance(snapshot.get(key), str) or not snapshot[key].strip():
            problems.append("the snapshot's %s is empty" % key)
    references = snapshot.get("factor_references")
    if not isinstance(references, list) or not references or not all(
            isinstance(r, str) and r.strip() for r in references):
        problems.append("the snapshot's factor_references are empty")
    return problems


def file_sha256(path):
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def archive_files(root):
    """Every file under root, as `/`-separated relative names, sorted."""
    names = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        relative = os.path.relpath(directory, root)
        for file_name in files:
            parts = [] if relative == "." else relative.split(os.sep)
            names.append("/".join(parts + [file_name]))
    return sorted(names)


# --------------------------------------------------------------------------------------------
# Command line

USAGE = """usage: python3 verify.py [DIR]

Checks the GreenOS evidence archive unpacked in DIR (default: the directory holding this
file). Exit status 0 when every check passed, 1 when one failed, 2 on a usage error.
GREENOS_VERIFY_PURE_PYTHON=1 uses the pure-Python Ed25519 verification even when the
`cryptography` package is installed."""


def main(argv=None, out=None, err=None):
    argv = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    err = err or sys.stderr
    if argv in (["-h"], ["--help"]):
        print(USAGE, file=out)
        return 0
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print(USAGE, file=err)
        return 2
    root = argv[0] if argv else os.path.dirname(os.path.abspath(__file__))
    if not os.path.isdir(root):
        print("verify.py: %s is not a directory\n\n%s" % (root, USAGE), file=err)
        return 2

    def progress(message):
        print("verify.py: " + message, file=err, flush=True)

    started = time.monotonic()
    archive = Archive(root, progress)
    print("GreenOS evidence archive %s (Ed25519: %s)" % (os.path.abspath(root),
                                                          archive.backend), file=out)
    results = archive.run()
    for result in results:
        print("%-4s %s  %s" % (result.status, result.name, result.detail), file=out)
    failed = [r.name for r in results if r.status == "FAIL"]
    skipped = [r.name for r in results if r.status == "SKIP"]
    passed = len(results) - len(failed) - len(skipped)
    elapsed = time.monotonic() - started
    if failed:
        print("NOT VERIFIED: %d check(s) failed (%s), %d passed, %d skipped, %.1f s" % (
            len(failed), ", ".join(failed), passed, len(skipped), elapsed), file=out)
        return 1
    print("VERIFIED: all %d checks passed, %d skipped (%s), %.1f s" % (
        passed, len(skipped), ", ".join(skipped), elapsed), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
