"""Which files are never indexed: secrets, binaries, vendored and generated files."""

from __future__ import annotations

import pytest

from knowledge.sources.file_filters import path_skip_reason, skip_reason

LIMIT = 1_000_000


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".env", "secret"),
        ("deploy/.env.production", "secret"),
        (".env.local", "secret"),
        (".env.example.local", "secret"),
        (".envrc", "secret"),
        ("certs/server.pem", "secret"),
        ("config/master.key", "secret"),
        ("home/.ssh/id_rsa", "secret"),
        ("id_ed25519.pub", "secret"),
        ("keys/client.p12", "secret"),
        ("keys/client.PFX", "secret"),
        ("aws/credentials", "secret"),
        ("gcp/credentials.json", "secret"),
        (".netrc", "secret"),
        (".npmrc", "secret"),
        (".pypirc", "secret"),
        ("k8s/secrets.yaml", "secret"),
        ("web/node_modules/react/index.js", "vendored"),
        ("vendor/github.com/x/y.go", "vendored"),
        ("dist/app.js", "vendored"),
        ("build/lib/mod.py", "vendored"),
        ("static/app.min.js", "generated"),
        ("static/site.min.css", "generated"),
        ("package-lock.json", "lock file"),
        ("yarn.lock", "lock file"),
        ("poetry.lock", "lock file"),
        ("Cargo.lock", "lock file"),
        ("go.sum", "lock file"),
        ("img/logo.png", "binary"),
        ("docs/manual.pdf", "binary"),
    ],
)
def test_path_rules(path: str, reason: str) -> None:
    assert path_skip_reason(path, 10, LIMIT) == reason


@pytest.mark.parametrize(
    "path",
    [
        "src/app.py",
        "docs/environment.md",
        "README.md",
        "src/keyboard.py",
        "lib/builder.py",
        "tests/test_secrets_scanner.py",
        "docs/distribution.rst",
        "Makefile",
    ],
)
def test_ordinary_files_pass(path: str) -> None:
    assert path_skip_reason(path, 10, LIMIT) is None
    assert skip_reason(path, b"print('hello')\n", LIMIT) is None


def test_size_limit() -> None:
    assert path_skip_reason("big.py", LIMIT + 1, LIMIT) == "too large"
    assert skip_reason("big.py", b"x" * (LIMIT + 1), LIMIT) == "too large"
    assert skip_reason("ok.py", b"x" * LIMIT, LIMIT) is None


def test_content_rules() -> None:
    assert skip_reason("data.txt", b"abc\x00def", LIMIT) == "binary"
    # git's rule: a NUL byte in the first 8,000 bytes is binary; any other bytes are text.
    assert skip_reason("tool", b"x" * 7999 + b"\x00", LIMIT) == "binary"
    assert skip_reason("log.txt", b"x" * 8000 + b"\x00", LIMIT) is None
    assert skip_reason("latin.txt", "caf\u00e9".encode("latin-1"), LIMIT) is None
    assert skip_reason("notes.md", b"It\x92s \xff odd", LIMIT) is None
    assert skip_reason("utf8.txt", "caf\u00e9".encode("utf-8"), LIMIT) is None
    # A private key inside a file is redacted by the pipeline (tests/test_redaction.py), not skipped.
    key = b"x = '''\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n'''"
    assert skip_reason("settings.py", key, LIMIT) is None


@pytest.mark.parametrize("name", [".env.example", "deploy/.env.sample", ".env.template", ".env.dist"])
def test_env_examples_are_indexed(name: str) -> None:
    assert path_skip_reason(name, 10, LIMIT) is None
