#!/usr/bin/env python3
"""Writes internal/password/testdata/legacy.json: password hashes made by the
real libraries of the Flask service that Latchkey replaces, which the legacy
verifiers of internal/password must accept with the right password only.

Each run adds what the interpreter running it can make, and keeps the rest of
the file: records made by a library version this run also has are replaced,
others stay. So two runs with two interpreters cover two Werkzeug versions:

    # Debian's Werkzeug 2.2.2 and bcrypt 3.2.2, and htpasswd for $2y$
    apt-get install -y python3-werkzeug python3-bcrypt apache2-utils
    /usr/bin/python3 scripts/legacy-fixtures.py internal/password/testdata/legacy.json
    # Werkzeug 3.1.8 from pip, in another interpreter or a virtual environment
    pip install 'werkzeug==3.1.8'
    python3 scripts/legacy-fixtures.py internal/password/testdata/legacy.json

Werkzeug writes every parameter into the hash it makes, so one version can
make the hashes that another version makes by default once that version's
method is spelled out: each record's "stands_for" says which defaults it is.

Records:
  password    the password that verifies
  hash        the stored hash
  scheme      Latchkey's name for it, as LegacyScheme returns it, or "" for
              Werkzeug's removed plain and HMAC methods
  refused     true for a hash Latchkey must refuse as an unknown scheme: the
              removed methods, and pbkdf2 with a digest other than sha1-sha512
  made_by     the library and version that made it
  stands_for  whose default it is, or why it is here
"""

import importlib.metadata
import json
import shutil
import subprocess
import sys
import warnings

# Passwords exercise UTF-8 (the KDFs take the password's UTF-8 bytes), an
# empty password, and bcrypt's 72-byte limit (bcrypt uses the first 72 bytes;
# Python's bcrypt before 5.0 and htpasswd cut longer passwords silently).
PASSWORD = "correct horse battery staple"
UNICODE = "pässwörd ✓ 密码"
LONG = "x" * 70 + "ü" + "tail beyond 72 bytes"


def werkzeug_records():
    try:
        from werkzeug.security import generate_password_hash
    except ImportError:
        return []
    version = importlib.metadata.version("werkzeug")
    made_by = f"werkzeug {version}"
    major, minor = (int(x) for x in version.split(".")[:2])
    out = []

    def add(method, stands_for, password=PASSWORD, scheme=None, refused=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 2.3 deprecates plain methods
            if method is None:
                h = generate_password_hash(password)
            else:
                h = generate_password_hash(password, method=method)
        if scheme is None:
            scheme = {"pbkdf2": "werkzeug-pbkdf2", "scrypt": "werkzeug-scrypt"}[h.split(":")[0]]
        out.append(
            {
                "password": password,
                "hash": h,
                "scheme": scheme,
                "refused": refused,
                "made_by": made_by,
                "stands_for": stands_for,
            }
        )

    # Each default appears once, made by one version, as it costs a test a
    # second or more to verify; the other cases use cheap parameters, which
    # take the same paths.
    add(None, f"werkzeug {major}.{minor} generate_password_hash default")
    if (major, minor) >= (3, 1):
        add("pbkdf2", "werkzeug 3.1 method='pbkdf2' default (pbkdf2:sha256:1000000)")
    if major >= 3:
        add("pbkdf2:sha256:600000", "werkzeug 2.3 default, 3.0 method='pbkdf2' default")
    else:
        add("pbkdf2:sha256:150000", "werkzeug 1.0 default")
    if (major, minor) >= (2, 3):
        # scrypt exists since 2.3 and is the default since 3.0.
        add("scrypt:1024:1:16", "scrypt with P at its bound")
        add("scrypt:512:2:4", "scrypt, UTF-8 password", password=UNICODE)
        add("scrypt:256:1:8", "scrypt, empty password", password="")
    add("pbkdf2:sha256:1000", "pbkdf2, UTF-8 password", password=UNICODE)
    add("pbkdf2:sha256:1000", "pbkdf2, empty password", password="")
    add("pbkdf2:sha1:1000", "pbkdf2 with sha1 (werkzeug 0.x spelled method='pbkdf2:sha1')")
    add("pbkdf2:sha224:1000", "pbkdf2 with sha224")
    add("pbkdf2:sha384:1000", "pbkdf2 with sha384")
    add("pbkdf2:sha512:1000", "pbkdf2 with sha512")
    add("pbkdf2:sha256:1", "pbkdf2 with one iteration")
    if (major, minor) < (3, 0):
        # Removed in werkzeug 3.0: Latchkey refuses them as unknown schemes.
        add("plain", "werkzeug <3.0 plain text, removed in 3.0", scheme="", refused=True)
        add("sha256", "werkzeug <3.0 salted HMAC-SHA256, removed in 3.0", scheme="", refused=True)
        add("md5", "werkzeug <3.0 salted HMAC-MD5, removed in 3.0", scheme="", refused=True)
    add("pbkdf2:md5:1000", "pbkdf2 with a digest other than sha1-sha512", refused=True)
    return out


def bcrypt_records():
    try:
        import bcrypt
    except ImportError:
        return []
    made_by = f"bcrypt {bcrypt.__version__} (python)"
    out = []
    for prefix, rounds, password, stands_for in [
        (b"2b", 12, PASSWORD, "Flask-Bcrypt and passlib default (cost 12)"),
        (b"2b", 10, PASSWORD, "PHP password_hash default before 8.4 (cost 10)"),
        (b"2a", 6, PASSWORD, "$2a$ prefix"),
        (b"2b", 4, UNICODE, "cost 4, UTF-8 password"),
        (b"2b", 4, LONG, "cost 4, a password longer than 72 bytes (bcrypt uses the first 72)"),
        (b"2b", 4, "", "cost 4, empty password"),
    ]:
        h = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds, prefix=prefix)).decode()
        out.append(
            {
                "password": password,
                "hash": h,
                "scheme": "bcrypt",
                "refused": False,
                "made_by": made_by,
                "stands_for": stands_for,
            }
        )
    return out


def htpasswd_records():
    if shutil.which("htpasswd") is None:
        return []
    out = []
    for cost, stands_for in [(5, "htpasswd -B default ($2y$, cost 5)")]:
        line = subprocess.run(
            ["htpasswd", "-nbB", "-C", str(cost), "user", PASSWORD], check=True, capture_output=True, text=True
        ).stdout.strip()
        out.append(
            {
                "password": PASSWORD,
                "hash": line.split(":", 1)[1],
                "scheme": "bcrypt",
                "refused": False,
                "made_by": "htpasswd (apache2-utils)",
                "stands_for": stands_for,
            }
        )
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTPUT.json")
    path = sys.argv[1]
    new = werkzeug_records() + bcrypt_records() + htpasswd_records()
    if not new:
        sys.exit("neither werkzeug, bcrypt nor htpasswd is available: nothing to write")
    try:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    except FileNotFoundError:
        old = []
    replaced = {r["made_by"] for r in new}
    records = [r for r in old if r["made_by"] not in replaced] + new
    records.sort(key=lambda r: (r["made_by"], r["scheme"], r["stands_for"]))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{path}: {len(new)} records made by {', '.join(sorted(replaced))}; {len(records)} in all")


if __name__ == "__main__":
    main()
