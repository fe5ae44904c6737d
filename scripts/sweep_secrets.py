#!/usr/bin/env python3
"""The secrets sweep, run by scripts/test-all.sh after the whole suite.

Every gateway the tests ran left, under the sweep folder, its outputs (security
and audit logs, rotated ones too, diagnostic stderr, a last metrics scrape) and,
apart, the secrets it was given (private keys, tokens, the encryption key,
Google credentials). The sweep looks for every secret of every gateway in every
output of every gateway, and in the suite's own output, and also for anything
shaped like a secret whoever it belonged to: a PEM private key, a JWT, a bearer
credential, a Google access token. One hit fails the run; the secret is never
printed, only where it was found.

    sweep_secrets.py SWEEP_DIR [EXTRA_OUTPUT_FILE...]
    sweep_secrets.py --self-test
"""

import json
import pathlib
import re
import sys
import tempfile

# Shorter needles would match by chance (a calendar id, a word).
MIN_NEEDLE = 16

SHAPES = {
    "a PEM private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "a bearer credential": re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    "a Google access token": re.compile(r"ya29\.[A-Za-z0-9_-]{16,}"),
}


def needles(secret):
    """The strings that would betray `secret` if an output held them."""
    found = set()
    text = secret.strip()
    if not text:
        return found
    if "PRIVATE KEY-----" in text:
        body = [line.strip() for line in text.splitlines() if line and "-----" not in line]
        found.update(line for line in body if len(line) >= MIN_NEEDLE)
        return found
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            for key in ("private_key", "client_secret", "refresh_token"):
                if isinstance(document.get(key), str):
                    found.update(needles(document[key]))
            return found
    found.add(text)
    parts = text.split(".")
    if len(parts) == 3 and len(parts[2]) >= MIN_NEEDLE:
        found.add(parts[2])  # a token's signature alone is as good as the token
    return {n for n in found if len(n) >= MIN_NEEDLE}


def sweep(root, extra_outputs):
    root = pathlib.Path(root)
    secrets, outputs = [], list(map(pathlib.Path, extra_outputs))
    for slot in sorted(p for p in root.iterdir() if p.is_dir()):
        listed = slot / "secrets.json"
        if listed.exists():
            secrets.extend(json.loads(listed.read_text()))
        outputs.extend(sorted(p for p in (slot / "outputs").glob("*") if p.is_file()))
    all_needles = set()
    for secret in secrets:
        all_needles.update(needles(secret))
    hits, size = [], 0
    for path in outputs:
        text = path.read_text(errors="replace")
        size += len(text)
        for number, line in enumerate(text.splitlines(), 1):
            for needle in all_needles:
                if needle in line:
                    hits.append(f"{path}:{number}: a secret the tests gave a gateway")
            for shape, pattern in SHAPES.items():
                if pattern.search(line):
                    hits.append(f"{path}:{number}: {shape}")
    gateways = sum(1 for p in root.iterdir() if p.is_dir())
    return hits, len(outputs), size, len(all_needles), gateways


def self_test():
    token = "eyJhbGciOiJFZERTQSJ9.eyJjbGllbnRJZCI6ImEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    with tempfile.TemporaryDirectory() as root:
        slot = pathlib.Path(root, "1-0")
        (slot / "outputs").mkdir(parents=True)
        (slot / "secrets.json").write_text(json.dumps([token, "short"]))
        clean = slot / "outputs" / "security.log"
        clean.write_text("DENY stage=jwt reason=bad_signature ip=127.0.0.1 client=a\n")
        assert sweep(root, [])[0] == [], "a clean log was flagged"
        for leak in [token.split(".")[2], f"Authorization: Bearer {token}", "-----BEGIN PRIVATE KEY-----"]:
            clean.write_text(f"detail={leak}\n")
            assert sweep(root, [])[0], f"missed {leak!r}"
    print("sweep self-test: a clean log passes; a token, its signature, a bearer header and a key are caught")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    hits, files, size, needle_count, gateways = sweep(sys.argv[1], sys.argv[2:])
    print(
        f"secrets sweep: {files} output files ({size / 1e6:.1f} MB) of {gateways} gateways "
        f"searched for {needle_count} secrets and {len(SHAPES)} secret shapes: {len(hits)} found"
    )
    for hit in hits[:50]:
        print(f"  {hit}")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
