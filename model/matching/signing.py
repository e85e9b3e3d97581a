"""Optional bundle signing: an HMAC-SHA256 over ``manifest.json``, kept in ``manifest.sig``.

The manifest's SHA-256 digests catch a damaged or half-edited bundle, but anyone who can
write the bundle folder can also recompute them (for example after lowering the block
threshold in ``config.json``). With a signing key configured, a bundle is loaded only when
its manifest carries a valid HMAC made with that key, so such an edit is refused. Threat
model and key handling: README, "Bundle signing".

Key: ``RECALLGUARD_BUNDLE_SIGNING_KEY``, at least 32 characters (e.g. ``openssl rand -hex
32``). Unset: bundles are neither signed nor checked. HMAC (stdlib) was chosen over Ed25519
to add no dependency; its cost is that whoever can verify can also sign (see README).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path

from model.settings import Settings

SIGNATURE_FILE = "manifest.sig"
KEY_ENV = "RECALLGUARD_BUNDLE_SIGNING_KEY"
ALGORITHM = "hmac-sha256"


def signing_key(env: Mapping[str, str] | None = None) -> bytes | None:
    """The configured key (`Settings.bundle_signing_key`), or None.

    :raises SettingsError: (a ValueError) when it is set but shorter than 32 characters.
    """
    raw = Settings.from_env(env).bundle_signing_key
    return None if raw is None else raw.encode("utf-8")


def key_id(key: bytes) -> str:
    """A short, public fingerprint of the key (never the key): names which key signed."""
    return hashlib.sha256(b"recallguard-key-id:" + key).hexdigest()[:16]


def _mac(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


def sign(bundle: Path, key: bytes) -> Path:
    """Write ``manifest.sig`` for the bundle's current ``manifest.json``."""
    manifest = (bundle / "manifest.json").read_bytes()
    body = {"algorithm": ALGORITHM, "key_id": key_id(key), "signature": _mac(key, manifest)}
    out = bundle / SIGNATURE_FILE
    out.write_text(json.dumps(body, indent=2))
    return out


def problem(bundle: Path, key: bytes) -> str | None:
    """None when ``manifest.sig`` is a valid HMAC of the manifest under `key`, else why not."""
    sig_path = bundle / SIGNATURE_FILE
    if not sig_path.is_file():
        return f"{sig_path} is missing: {KEY_ENV} is set, so only signed bundles are loaded"
    try:
        body = json.loads(sig_path.read_text())
        algorithm, given = body["algorithm"], body["signature"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"{sig_path} is unreadable: {type(exc).__name__}: {exc}"
    if algorithm != ALGORITHM or not isinstance(given, str):
        return f"{sig_path}: algorithm must be {ALGORITHM}, got {algorithm!r}"
    expected = _mac(key, (bundle / "manifest.json").read_bytes())
    if not hmac.compare_digest(expected, given):
        signer = body.get("key_id")
        return (
            f"{sig_path} does not match manifest.json under the configured key "
            f"(key id {key_id(key)}, signed with {signer!r}): the bundle was changed after "
            "signing or signed with another key; refusing to load"
        )
    return None
