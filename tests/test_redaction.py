"""Secret redaction on text: every planted kind replaced in place, placeholders kept."""

from __future__ import annotations

import random
import string

import pytest

from knowledge.documents import Document
from knowledge.redaction import marker, redact_document, redact_text
from tests.secret_corpus import CONFLUENCE, PLACEHOLDER_LINES, build_corpus

CORPUS = build_corpus()
PAGE_PATH = "ENG/Reporting Service Runbook"
# Assembled so this test is not itself a file that looks like it holds a key.
BEGIN, END = "-----BEGIN ", "-----END "


def fake(alphabet: str, n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


KEY_LINES = "\n".join(fake(string.ascii_letters + string.digits + "+/", 64, seed) for seed in range(5))


@pytest.mark.parametrize("where", [*CORPUS.files, CONFLUENCE])
def test_every_planted_secret_is_replaced_by_its_marker_within_its_line(where: str) -> None:
    text = CORPUS.page_body if where == CONFLUENCE else CORPUS.files[where]
    redacted = redact_text(text, PAGE_PATH if where == CONFLUENCE else where)

    planted = CORPUS.in_file(where)
    assert sorted(f.kind for f in redacted.findings) == sorted(p.kind for p in planted)
    for secret in planted:
        assert not any(piece in redacted.text or piece in redacted.text.lower() for piece in secret.pieces)
        assert marker(secret.kind) in redacted.text
    # Same lines, same numbers: only the lines that held a secret changed.
    before, after = text.split("\n"), redacted.text.split("\n")
    assert len(before) == len(after)
    changed = {n for f in redacted.findings for n in range(f.line, f.line + text.count("\n", f.start, f.end) + 1)}
    assert [line for n, line in enumerate(before, 1) if n not in changed] == [
        line for n, line in enumerate(after, 1) if n not in changed
    ]


def test_the_corpus_plants_at_least_fifteen_kinds() -> None:
    assert len(CORPUS.kinds) >= 15, CORPUS.kinds


def test_placeholders_in_an_env_example_are_kept_and_the_real_value_is_not() -> None:
    redacted = redact_text(CORPUS.files[".env.example"], ".env.example")
    for line in PLACEHOLDER_LINES:
        assert line in redacted.text.split("\n")
    assert "SENDGRID_API_KEY=[redacted: SendGrid key]" in redacted.text


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("docs/wifi.md", "The guest network password rotates every Monday; it is posted at reception."),
        ("app.py", "password = get_password(request)"),
        ("app.py", 'if not password:\n    raise ValueError("password is required")'),
        ("app.py", 'TOKEN_URL = "https://auth.example.org/oauth2/v1/token?audience=api"'),
        ("app.py", "client = Client(SECRET_KEY=secret_key)"),
        ("app.py", "env = f\"SENDGRID_API_KEY={load('sendgrid key', vault)}\""),  # a format field
        ("config.yaml", "password: ${DB_PASSWORD}"),
        ("config.yaml", 'password: "{{ vault_ledger_password }}"'),
        ("config.yaml", "token: <paste your token here>"),
        ("config.ini", "password ="),
        ("README.md", "Set `DB_PASSWORD=value` in your shell."),
        ("README.md", "DATABASE_URL=postgres://postgres:postgres@localhost:5432/app"),
        ("README.md", "export GITHUB_TOKEN=ghp_" + "0" * 36),
        ("docs/aws.md", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
        ("CHANGELOG.md", "Fixed in 3f2c1a9e5b7d4c6a8e0f1b2d3c4a5e6f7a8b9c0d (the token refresh)."),
        ("tests/test_api.py", 'session_token = "123e4567-e89b-12d3-a456-426614174000"'),
        ("cert.pem.txt", BEGIN + "CERTIFICATE-----\n" + KEY_LINES + "\n" + END + "CERTIFICATE-----\n"),
    ],
)
def test_what_is_not_a_secret_is_left_alone(path: str, text: str) -> None:
    redacted = redact_text(text, path)
    assert redacted.findings == () and redacted.text == text


def test_a_token_is_a_secret_wherever_it_stands() -> None:
    token = "ghp_" + fake(string.ascii_letters + string.digits, 36)
    text = f'token = os.environ.get("GITHUB_TOKEN", "{token}")  # falls back to the CI bot'
    assert redact_text(text, "ci.py").text == (
        'token = os.environ.get("GITHUB_TOKEN", "[redacted: GitHub token]")  # falls back to the CI bot'
    )


def test_a_long_token_goes_whole_even_where_the_plugin_matches_only_its_start() -> None:
    key = "sk_live_" + fake(string.ascii_letters + string.digits, 99)  # today's Stripe keys are longer than 24
    assert redact_text(f"STRIPE_KEY={key} # live", ".env.example").text == "STRIPE_KEY=[redacted: Stripe key] # live"


@pytest.mark.parametrize(
    "header",
    [f"{kind}PRIVATE KEY" for kind in ("RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA ")],
)
def test_a_private_key_block_is_one_marker_and_keeps_its_lines(header: str) -> None:
    text = f"# Signing\n\nThe key:\n\n{BEGIN}{header}-----\n{KEY_LINES}\n{END}{header}-----\n\nRotate it yearly.\n"
    redacted = redact_text(text, "docs/signing.md")
    assert [f.kind for f in redacted.findings] == ["private key"]
    lines = redacted.text.split("\n")
    assert len(lines) == len(text.split("\n"))
    assert lines[4] == "[redacted: private key]" and lines[5:11] == [""] * 6
    assert lines[:4] == text.split("\n")[:4] and lines[-2] == "Rotate it yearly."


def test_a_private_key_in_a_json_string_goes_up_to_its_footer() -> None:
    pem = f"{BEGIN}PRIVATE KEY-----\\n" + KEY_LINES.replace("\n", "\\n") + f"\\n{END}PRIVATE KEY-----\\n"
    text = f'{{\n  "type": "service_account",\n  "private_key": "{pem}",\n  "client_email": "bot@acme.iam"\n}}\n'
    redacted = redact_text(text, "gcp/service-account.json")
    assert '  "private_key": "[redacted: private key]\\n",' in redacted.text.split("\n")
    assert '"client_email": "bot@acme.iam"' in redacted.text


def test_a_private_key_in_python_string_pieces_and_one_without_a_footer() -> None:
    pieces = "\n".join(f'    "{line}\\n"' for line in KEY_LINES.split("\n"))
    header, footer = f'    "{BEGIN}RSA PRIVATE KEY-----\\n"', f'    "{END}RSA PRIVATE KEY-----\\n"'
    code = f"KEY = (\n{header}\n{pieces}\n{footer}\n)\n\n\ndef sign(): ...\n"
    redacted = redact_text(code, "signing.py")
    assert KEY_LINES.split("\n")[0] not in redacted.text and "def sign(): ..." in redacted.text

    cut = f"Pasted by mistake:\n{BEGIN}OPENSSH PRIVATE KEY-----\n{KEY_LINES}\nThen the rest of the page.\n"
    redacted = redact_text(cut, "notes.md")
    assert redacted.text.split("\n") == ["Pasted by mistake:", "[redacted: private key]", *[""] * 5] + [
        "Then the rest of the page.",
        "",
    ]


def test_a_putty_key_is_redacted_through_its_mac() -> None:
    ppk = (
        "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n"
        f"{KEY_LINES.split(chr(10))[0]}\n{KEY_LINES.split(chr(10))[1]}\nPrivate-Lines: 2\n"
        f"{KEY_LINES.split(chr(10))[2]}\n{KEY_LINES.split(chr(10))[3]}\nPrivate-MAC: {fake('0123456789abcdef', 40)}\n"
        "\nUse it with pageant.\n"
    )
    redacted = redact_text(ppk, "docs/putty.md")
    assert redacted.text == "[redacted: private key]" + "\n" * 10 + "\nUse it with pageant.\n"


def test_redacting_twice_changes_nothing() -> None:
    for where, text in CORPUS.files.items():
        once = redact_text(text, where).text
        again = redact_text(once, where)
        assert again.findings == () and again.text == once, where


def test_a_document_without_secrets_is_the_same_object() -> None:
    document = Document("s", "a.py", "code", "a.py", "u", "def f():\n    return 1\n", "v", "python", path="a.py")
    assert redact_document(document) == (document, ())
    secret = Document("s", "b.yaml", "code", "b.yaml", "u", CORPUS.files["config/deploy.yaml"], "v", "text")
    redacted, findings = redact_document(secret)
    assert [f.kind for f in findings] == ["GitHub token"] and redacted.content != secret.content
    assert (redacted.title, redacted.url, redacted.version) == (secret.title, secret.url, secret.version)


def test_redaction_never_calls_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """detect-secrets' plugins can verify a secret with its vendor's API; lorebot never lets them."""
    import requests

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("redaction made an HTTP request")

    monkeypatch.setattr(requests.Session, "request", refuse)
    for where, text in [*CORPUS.files.items(), (PAGE_PATH, CORPUS.page_body)]:
        assert redact_text(text, where).findings
