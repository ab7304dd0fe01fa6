"""CLI edges: garbled question text, bad eval files, an unindexed eval corpus, and a
repository taken out of REPOS, end to end on real sample repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sample_repo import SAMPLE_INDEXED, SampleRepo
from tests.test_cli import lorebot, run_json


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    repo = SampleRepo.with_sample_files(tmp_path / "widgets")
    return {"DATA_DIR": str(tmp_path / "data"), "REPOS": str(repo.path)}


def test_garbled_question_text_is_cleaned_not_a_traceback(env: dict[str, str]) -> None:
    run_json(env, "sync")
    for garbled in ["\udcff retry", "retry \ud800 logic", "re\x00try\u200b", "\ufeffretry\x1b[31m"]:
        result = lorebot(env, "ask", garbled, "--json")
        assert result.exit_code == 0, (garbled, result.output)
        assert json.loads(result.stdout)["citations"]
        found = run_json(env, "search", garbled)
        assert "\x00" not in found["query"] and "\udcff" not in found["query"]
    only_noise = lorebot(env, "ask", "\u200b\x00\udcff")
    assert only_noise.exit_code == 1 and "empty" in only_noise.stderr


def test_bad_eval_lines_are_each_named_with_line_and_reason(env: dict[str, str], tmp_path: Path) -> None:
    run_json(env, "sync")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b"\n".join(
            [
                b'{"id": "ok", "question": "where are users stored", "expected": ["widgets/users.py"]}',
                b'{"id": "latin1", "question": "caf\xe9", "expected": []}',
                b'{"id": "ints", "question": "q", "expected": [1, 2]}',
                b'{"id": "string", "question": "q", "expected": "widgets/users.py"}',
                b"not json",
                b'{"id": "ok", "question": "again", "expected": []}',
            ]
        )
        + b"\n"
    )
    result = lorebot(env, "eval", str(bad))
    assert result.exit_code == 1 and "Traceback" not in result.output
    for line, reason in [
        (2, "not UTF-8"),
        (3, "expected.0"),
        (4, "expected: Input should be a valid list"),
        (5, "not JSON"),
        (6, "id 'ok' is used twice"),
    ]:
        assert f"bad.jsonl:{line}: {reason}" in result.stderr, result.stderr
    assert "bad.jsonl:1:" not in result.stderr


def test_eval_says_when_no_expected_source_is_indexed(env: dict[str, str], tmp_path: Path) -> None:
    run_json(env, "sync")
    other = tmp_path / "other.jsonl"
    other.write_text(
        json.dumps({"id": "a", "question": "how are templates rendered", "expected": ["src/jinja2/"]}) + "\n"
    )
    result = lorebot(env, "eval", str(other), "--json")
    assert result.exit_code == 0
    assert "no expected source" in result.stderr and json.loads(result.stdout)["metrics"]["recall@10"] == 0


def test_a_repository_taken_out_of_repos_is_removed_at_the_next_sync(env: dict[str, str], tmp_path: Path) -> None:
    gadgets = SampleRepo.with_sample_files(tmp_path / "gadgets")
    both = {**env, "REPOS": f"{env['REPOS']},{gadgets.path}"}
    assert [s["name"] for s in run_json(both, "sync")["sources"]] == ["widgets", "gadgets"]
    assert {r["source"] for r in run_json(both, "search", "display name of a user", "-k", "10")["results"]} == {
        "widgets",
        "gadgets",
    }

    widgets, removed = run_json(env, "sync")["sources"]
    assert widgets["name"] == "widgets" and widgets["error"] is None
    assert (removed["name"], removed["kind"], removed["deleted"]) == ("gadgets", "git", len(SAMPLE_INDEXED))
    assert [s["name"] for s in run_json(env, "sync")["sources"]] == ["widgets"]  # removed once
    assert {r["source"] for r in run_json(env, "search", "display name of a user", "-k", "10")["results"]} == {
        "widgets"
    }
