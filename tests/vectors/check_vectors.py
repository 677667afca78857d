#!/usr/bin/env python3
"""Independent Python check of GreenOS's cross-language test vectors.

Recomputes every output of tests/vectors/vectors.json with Python's standard
library (json, hashlib, hmac, decimal, datetime), the `rfc8785` package and
`cryptography`, without any GreenOS code. Exits non-zero on any mismatch.

    python3 -m pip install -q -r tests/vectors/requirements.txt
    python3 tests/vectors/check_vectors.py
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import sys
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

VECTORS = Path(__file__).with_name("vectors.json")
MAX_SAFE_INTEGER = 2**53 - 1
MICRO = Decimal("0.000001")
# rust_decimal holds a 96-bit mantissa: the documented range limit of Decimal6.
MAX_MANTISSA = 2**96

PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class Refused(Exception):
    """An input the contract refuses; the message is the error code."""


def canonical(obj):
    """SPEC section 5: the bytes every implementation must produce."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Refused("duplicate_key")
    return dict(pairs)


def parse_strict(text):
    def reject_float(_):
        raise Refused("non_integer_number")

    return json.loads(text, object_pairs_hook=reject_duplicates, parse_float=reject_float,
                      parse_constant=reject_float)


def check_integers(obj):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, int):
        if abs(obj) > MAX_SAFE_INTEGER:
            raise Refused("integer_out_of_range")
    elif isinstance(obj, list):
        for item in obj:
            check_integers(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            check_integers(item)
    else:
        raise Refused("non_integer_number")


def has_astral_key(obj):
    if isinstance(obj, dict):
        return any(any(ord(c) > 0xFFFF for c in k) or has_astral_key(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(has_astral_key(item) for item in obj)
    return False


def six_places(value):
    """Formats an exact Decimal with exactly 6 decimals, never as -0.000000."""
    quantized = value.quantize(MICRO)
    if quantized == 0:
        quantized = Decimal("0.000000")
    return f"{quantized:f}"


def exact_decimal(int_part, frac, exponent, text):
    """The value int.frac x 10^exponent, refused beyond 6 places or 96 bits."""
    digits, scale = int_part + frac, len(frac) - exponent
    while scale > 6 and digits.endswith("0"):
        digits, scale = digits[:-1], scale - 1
    mantissa = int(digits)
    if mantissa == 0:
        return Decimal(0)
    if scale > 6:
        raise Refused("too_many_decimal_places")
    if scale < 0:
        mantissa, scale = mantissa * 10 ** (-scale), 0
    if mantissa >= MAX_MANTISSA:
        raise Refused("out_of_range")
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(mantissa).scaleb(-scale)


def parse_decimal(text):
    match = PLAIN_DECIMAL.fullmatch(text)
    if not match:
        raise Refused("syntax")
    int_part, frac = text.lstrip("-").partition(".")[::2]
    value = exact_decimal(int_part, frac, 0, text)
    return -value if text.startswith("-") else value


def parse_json_number(raw):
    if raw.startswith('"') or not JSON_NUMBER.fullmatch(raw):
        raise Refused("syntax")
    mantissa, _, exponent = raw.lstrip("-").lower().partition("e")
    int_part, frac = mantissa.partition(".")[::2]
    value = exact_decimal(int_part, frac, int(exponent or "0"), raw)
    return -value if raw.startswith("-") else value


def round_half_even(text):
    with localcontext() as ctx:
        ctx.prec = 60
        return six_places(Decimal(text).quantize(MICRO, rounding=ROUND_HALF_EVEN))


def parse_timestamp(text):
    match = RFC3339.fullmatch(text)
    if not match:
        raise Refused("syntax")
    year, month, day, hour, minute, second, frac, offset = match.groups()
    if frac and len(frac) > 6:
        raise Refused("too_precise")
    if second == "60":
        raise Refused("leap_second")
    if offset in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                             int(second), int((frac or "").ljust(6, "0")), tzinfo=tz)
    except ValueError as e:
        raise Refused("syntax") from e
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def outcome(parse, show, text):
    """`{"expected": shown value}` or `{"error": code}`, as in the vector file."""
    try:
        return {"expected": show(parse(text))}
    except Refused as e:
        return {"error": str(e)}


class Checker:
    def __init__(self, doc):
        self.passed, self.failed, self.mismatches = 0, 0, 0
        keys = doc["keys"]
        self.hmac = {v: s.encode("utf-8") for v, s in keys["hmac"].items()}
        self.ed25519 = {v: Ed25519PrivateKey.from_private_bytes(base64.b64decode(s, validate=True))
                        for v, s in keys["ed25519"].items()}
        self.check_public_keys(keys["public_keys"])

    def expect(self, name, what, got, want):
        if got == want:
            return True
        print(f"FAIL {name}: {what}\n  python: {got!r}\n  vector: {want!r}")
        self.mismatches += 1
        return False

    def check_public_keys(self, payloads):
        ok = self.expect("keys", "versions", [p["key_version"] for p in payloads], sorted(self.ed25519))
        for p in payloads:
            raw = self.ed25519[p["key_version"]].public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            ok &= self.expect("keys", "public key", p["public_key"], base64.b64encode(raw).decode())
            ok &= self.expect("keys", "fingerprint", p["fingerprint_sha256"],
                              sha256_hex(base64.b64decode(p["public_key"], validate=True)))
            ok &= self.expect("keys", "payload constants", (p["signature_algorithm"], p["encoding"]),
                              ("ED25519", "base64"))
        self.public = {p["key_version"]: p["public_key"] for p in payloads}
        self.tally(ok)

    def tally(self, ok):
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def check_signatures(self, name, hash_hex, sigs, version):
        message = hash_hex.encode("utf-8")
        want_hmac = hmac.new(self.hmac[version], message, hashlib.sha256).hexdigest()
        ok = self.expect(name, "hmac", sigs["signature"], want_hmac)
        ok &= self.expect(name, "algorithms", (sigs["signature_algorithm"], sigs["asym_algorithm"]),
                          ("HMAC-SHA256", "ED25519"))
        ok &= self.expect(name, "versions", (sigs["key_version"], sigs["asym_key_version"]),
                          (version, version))
        signature = base64.b64decode(sigs["asym_signature"], validate=True)
        # What the auditor guide does: verify with the published public key only.
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public[version]))
        try:
            public.verify(signature, message)
        except Exception:  # cryptography raises InvalidSignature
            ok &= self.expect(name, "ed25519 verify", "invalid", "valid")
        # Ed25519 is deterministic, so the bytes must match too.
        ok &= self.expect(name, "ed25519 bytes", self.ed25519[version].sign(message), signature)
        return ok

    def check_canonical(self, name, v, obj):
        data = canonical(obj)
        ok = self.expect(name, "canonical", data.decode("utf-8"), v["canonical"])
        ok &= self.expect(name, "sha256", sha256_hex(data), v["sha256"])
        if has_astral_key(obj):
            # rfc8785 sorts keys by UTF-16 code units, SPEC section 5 by code point:
            # they differ only for keys outside the Basic Multilingual Plane.
            pass
        else:
            ok &= self.expect(name, "rfc8785", rfc8785.dumps(obj), data)
        if "sign_with" in v:
            ok &= self.check_signatures(name, v["sha256"], v["signatures"], v["sign_with"])
        return ok

    def check_event(self, name, v):
        i = v["input"]
        distance = parse_json_number(i["distance_km"])
        thermal, ev = parse_decimal(i["thermal_factor_local"]), parse_decimal(i["ev_factor_local"])
        with localcontext() as ctx:
            ctx.prec = 60
            co2 = six_places((distance * thermal - distance * ev).quantize(MICRO, ROUND_HALF_EVEN))
        fields = {k: i[k] for k in ("trip_id", "user_id", "vehicle_id", "country_code", "geo_hash",
                                    "model_version", "methodology_version")}
        fields.update(event_timestamp=parse_timestamp(i["event_timestamp"]),
                      distance_km=six_places(distance), thermal_factor_local=six_places(thermal),
                      ev_factor_local=six_places(ev), co2_avoided_kg=co2)
        data = canonical(fields)
        event_hash = sha256_hex(data)
        ok = self.expect(name, "co2_avoided_kg", co2, v["co2_avoided_kg"])
        ok &= self.expect(name, "canonical", data.decode(), v["canonical"])
        ok &= self.expect(name, "rfc8785", rfc8785.dumps(fields), data)
        ok &= self.expect(name, "event_hash", event_hash, v["event_hash"])
        check = canonical({"event_hash": event_hash, "trip_id": i["trip_id"],
                           "model_version": i["model_version"], "country_code": i["country_code"]})
        ok &= self.expect(name, "checksum canonical", check.decode(), v["checksum_canonical"])
        ok &= self.expect(name, "checksum", sha256_hex(check), v["checksum"])
        return ok & self.check_signatures(name, event_hash, v["signatures"], v["sign_with"])

    def check(self, v):
        name, kind = v["name"], v["kind"]
        if kind == "canonical":
            obj = parse_strict(v["input_json"])
            check_integers(obj)
            ok = self.check_canonical(name, v, obj)
        elif kind == "canonical_error":
            try:
                check_integers(parse_strict(v["input_json"]))
                got = "accepted"
            except Refused as e:
                got = str(e)
            ok = self.expect(name, "error", got, v["error"])
        elif kind in ("decimal_parse", "json_number", "timestamp"):
            parse, show = {"decimal_parse": (parse_decimal, six_places),
                           "json_number": (parse_json_number, six_places),
                           "timestamp": (parse_timestamp, str)}[kind]
            want = {k: v[k] for k in ("expected", "error") if k in v}
            ok = self.expect(name, kind, outcome(parse, show, v["input"]), want)
        elif kind == "decimal_round":
            ok = self.expect(name, "round half even", round_half_even(v["input"]), v["expected"])
        elif kind == "event_hash":
            ok = self.check_event(name, v)
        elif kind == "methodology_hash":
            ok = self.check_canonical(name, v, v["input"])
        elif kind == "proof_hash":
            proof = parse_strict(v["input_json"])
            proof.pop("proof_hash", None)
            ok = self.check_canonical(name, v, proof)
        else:
            ok = self.expect(name, "kind", kind, "a known kind")
        self.tally(ok)


def main():
    doc = json.loads(VECTORS.read_text(encoding="utf-8"), object_pairs_hook=reject_duplicates)
    checker = Checker(doc)
    for vector in doc["vectors"]:
        checker.check(vector)
    print(f"{checker.passed} passed, {checker.failed} failed")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main())
