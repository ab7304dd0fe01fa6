"""Repository text in any encoding: UTF-8, UTF-8 with a few stray bytes, legacy code pages."""

from __future__ import annotations

import pytest

from knowledge.sources.text_encoding import UTF8, UTF8_MIXED, decode_text


def test_utf8_is_read_as_is_without_its_bom() -> None:
    assert decode_text("café — 😀\n".encode()) == ("café — 😀\n", UTF8)
    assert decode_text(b"\xef\xbb\xbfx = 1\n") == ("x = 1\n", UTF8)


def test_utf8_with_a_stray_windows_byte_keeps_its_letters() -> None:
    data = "# Menu\n\nOur café serves crème brûlée. It".encode() + b"\x92s good.\n"
    assert decode_text(data) == ("# Menu\n\nOur café serves crème brûlée. It’s good.\n", UTF8_MIXED)


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", 'x = "é"\n'),  # a single accented letter: too little for a detector on its own
        ("latin-1", '"""Résumé du café."""\n\ndef prix():\n    return "Crème brûlée, très bon"\n'),
        ("cp1252", "// Größe der Übergabe – „Straße“, Müller\nint size;\n"),
        ("cp1250", "// Zażółć gęślą jaźń. Źródło błędu.\n"),
        ("cp1251", "// Привет, мир! Это комментарий.\n"),
        ("shift_jis", "// こんにちは世界。これは日本語のコメントです。\n"),
    ],
)
def test_legacy_encodings_are_detected(encoding: str, text: str) -> None:
    decoded, used = decode_text(text.encode(encoding))
    assert decoded == text, used
    assert used != UTF8
