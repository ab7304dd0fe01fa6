"""The git source against real repositories built in temporary directories."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from knowledge.documents import Document
from knowledge.redaction import redact_document
from knowledge.sources import (
    Change,
    Checkpoint,
    Deletion,
    Listing,
    Notice,
    Skipped,
    SourceConfigError,
)
from knowledge.sources.git import GitSource, file_format, parse_repo_spec, repo_name
from tests.sample_repo import (
    ENCODING_FILES,
    LATIN1_PY,
    MENU_MD,
    SAMPLE_INDEXED,
    SAMPLE_SECRETS,
    SAMPLE_SKIPPED,
    USERS_PY,
    SampleRepo,
)


@pytest.fixture
def repo(tmp_path: Path) -> SampleRepo:
    return SampleRepo.with_sample_files(tmp_path / "widgets")


def source_for(repo: SampleRepo, tmp_path: Path, **options) -> GitSource:
    options.setdefault("branch", None)
    options = {"branch": None, "checkout_root": tmp_path / "checkouts", "max_file_bytes": 1_000_000, **options}
    return GitSource("widgets", str(repo.path), **options)


async def sync(source: GitSource, cursor: str | None = None) -> list[Change]:
    return [change async for change in source.changes(cursor, {})]


def documents(changes: list[Change]) -> dict[str, Document]:
    return {c.external_id: c for c in changes if isinstance(c, Document)}


def skipped(changes: list[Change]) -> dict[str, str]:
    return {c.external_id: c.reason for c in changes if isinstance(c, Skipped)}


def deletions(changes: list[Change]) -> set[str]:
    return {c.external_id for c in changes if isinstance(c, Deletion)}


def assert_no_secrets_once_redacted(changes: list[Change]) -> None:
    """What the pipeline indexes of each document (knowledge.redaction) holds no sample secret."""
    for document in documents(changes).values():
        for secret in SAMPLE_SECRETS:
            assert secret not in redact_document(document)[0].content, document.external_id


async def test_first_sync_yields_every_file_then_listing_then_checkpoint(repo: SampleRepo, tmp_path: Path) -> None:
    changes = await sync(source_for(repo, tmp_path))

    assert set(documents(changes)) == SAMPLE_INDEXED
    assert skipped(changes) == SAMPLE_SKIPPED
    assert changes[-2] == Listing(SAMPLE_INDEXED)
    assert changes[-1] == Checkpoint(repo.head)
    assert not [c for c in changes if isinstance(c, Notice)]  # origin is on GitHub
    assert_no_secrets_once_redacted(changes)


async def test_document_fields_link_to_the_commit_on_github(repo: SampleRepo, tmp_path: Path) -> None:
    docs = documents(await sync(source_for(repo, tmp_path)))
    sha = repo.head

    users = docs["widgets/users.py"]
    assert users.content == USERS_PY
    assert (users.source, users.kind, users.title, users.path) == (
        "widgets",
        "code",
        "widgets/users.py",
        "widgets/users.py",
    )
    assert (users.version, users.format) == (sha, "python")
    assert users.url == f"https://github.com/acme/widgets/blob/{sha}/widgets/users.py"
    assert users.line_url.format(start=3, end=9) == f"https://github.com/acme/widgets/blob/{sha}/widgets/users.py#L3-L9"
    assert docs["docs/release notes.md"].url == f"https://github.com/acme/widgets/blob/{sha}/docs/release%20notes.md"
    assert {d.format for d in docs.values()} == {"python", "markdown", "rst", "javascript", "text"}
    assert docs["docs/guide.rst"].format == "rst" and docs["web/app.js"].format == "javascript"


async def test_edits_renames_and_deletes_yield_exactly_what_changed(repo: SampleRepo, tmp_path: Path) -> None:
    source = source_for(repo, tmp_path)
    first = repo.head
    await sync(source)

    repo.write("widgets/users.py", USERS_PY + "\n\ndef remove_user(user_id: int) -> None:\n    pass\n")
    repo.rename("docs/guide.rst", "docs/pricing.rst")
    repo.delete("web/app.js")
    repo.write("widgets/orders.py", "def place_order() -> None:\n    pass\n")
    repo.write("widgets/__init__.py", b"\x00\x01 now binary")
    repo.write(".env.production", "API_KEY=another-fake\n")
    second = repo.commit("Edit, rename, delete, add")

    changes = await sync(source, first)

    assert set(documents(changes)) == {"widgets/users.py", "docs/pricing.rst", "widgets/orders.py"}
    assert deletions(changes) == {"docs/guide.rst", "web/app.js", "widgets/__init__.py"}
    assert skipped(changes) == {"widgets/__init__.py": "binary", ".env.production": "secret"}
    assert not [c for c in changes if isinstance(c, Listing)]
    assert changes[-1] == Checkpoint(second)
    assert documents(changes)["widgets/orders.py"].version == second


async def test_no_change_yields_only_a_checkpoint(repo: SampleRepo, tmp_path: Path) -> None:
    source = source_for(repo, tmp_path)
    await sync(source)

    assert await sync(source, repo.head) == [Checkpoint(repo.head)]


async def test_a_cursor_no_longer_in_the_repository_syncs_everything(repo: SampleRepo, tmp_path: Path) -> None:
    source = source_for(repo, tmp_path)
    await sync(source)

    changes = await sync(source, "0" * 40)  # e.g. history rewritten by a force push

    assert set(documents(changes)) == SAMPLE_INDEXED
    assert Listing(SAMPLE_INDEXED) in changes


async def test_secret_files_are_skipped_and_keys_redactable_in_later_syncs(repo: SampleRepo, tmp_path: Path) -> None:
    source = source_for(repo, tmp_path)
    await sync(source)
    first = repo.head
    repo.write("widgets/users.py", USERS_PY + "\nMAX_USERS = 10\n")
    repo.write("notes.txt", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    repo.write("deploy/id_rsa", "key")
    repo.write("deploy/site.pem", "cert")
    repo.commit("Oops")

    changes = await sync(source, first)

    assert skipped(changes) == {"deploy/id_rsa": "secret", "deploy/site.pem": "secret"}
    assert set(documents(changes)) == {"widgets/users.py", "notes.txt"}  # the key in notes.txt is redacted
    assert_no_secrets_once_redacted(changes)


async def test_text_in_any_encoding_is_indexed_and_only_binaries_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = SampleRepo.create(tmp_path / "menu")
    for path, content in ENCODING_FILES.items():
        repo.write(path, content)
    repo.commit("Menu")

    with caplog.at_level(logging.INFO, logger="knowledge.sources.git"):
        changes = await sync(source_for(repo, tmp_path))

    docs = documents(changes)
    assert docs["legacy/prix.py"].content == LATIN1_PY  # é stays é
    assert docs["docs/menu.md"].content == MENU_MD  # the stray byte read as the quote it was
    assert skipped(changes) == {"tools/compress": "binary"}
    assert any("legacy/prix.py is not UTF-8; read as cp1252" in message for message in caplog.messages)


async def test_oversized_files_are_skipped(repo: SampleRepo, tmp_path: Path) -> None:
    changes = await sync(source_for(repo, tmp_path, max_file_bytes=200))

    assert skipped(changes)["widgets/users.py"] == "too large"
    assert "README.md" in documents(changes)


async def test_a_branch_is_synced_and_followed(repo: SampleRepo, tmp_path: Path) -> None:
    repo.checkout("feature", create=True)
    repo.write("widgets/feature.py", "FLAG = True\n")
    feature = repo.commit("Feature")
    repo.checkout("main")
    source = source_for(repo, tmp_path, branch="feature")

    changes = await sync(source)
    assert "widgets/feature.py" in documents(changes)
    assert changes[-1] == Checkpoint(feature)

    repo.checkout("feature")
    repo.delete("widgets/feature.py")
    later = repo.commit("Drop the flag")
    changes = await sync(source, feature)
    assert changes == [Deletion("widgets/feature.py"), Checkpoint(later)]


async def test_unknown_branch_names_the_repos_entry(repo: SampleRepo, tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match=r"#nope.*REPOS"):
        await sync(source_for(repo, tmp_path, branch="nope"))


async def test_a_missing_repository_names_the_repos_entry(tmp_path: Path) -> None:
    source = GitSource("gone", str(tmp_path / "gone"), None, tmp_path / "checkouts", 1_000_000)
    with pytest.raises(SourceConfigError, match="gone.*REPOS"):
        await sync(source)
    assert not (tmp_path / "checkouts" / "gone").exists()


async def test_errors_never_show_credentials(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = GitSource("private", "https://bot:s3cr3t-token@127.0.0.1:9/acme/private.git", "main", tmp_path, 1_000_000)
    with pytest.raises(SourceConfigError) as raised:
        await sync(source)
    assert "https://127.0.0.1:9/acme/private.git#main" in str(raised.value)
    assert "s3cr3t" not in str(raised.value) and "s3cr3t" not in caplog.text


async def test_missing_git_is_a_config_error(repo: SampleRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    with pytest.raises(SourceConfigError, match="git is not installed"):
        await sync(source_for(repo, tmp_path))


async def test_links_come_from_the_local_checkouts_own_origin(tmp_path: Path) -> None:
    repo = SampleRepo.with_sample_files(tmp_path / "r", origin="https://ci:token@gitlab.example.com/g/sub/r.git")
    docs = documents(await sync(source_for(repo, tmp_path)))

    url = docs["web/app.js"].line_url.format(start=1, end=3)
    assert url == f"https://gitlab.example.com/g/sub/r/-/blob/{repo.head}/web/app.js#L1-3"


async def test_no_known_web_host_gives_path_links_and_one_notice(tmp_path: Path) -> None:
    repo = SampleRepo.with_sample_files(tmp_path / "plain", origin=None)
    changes = await sync(source_for(repo, tmp_path))

    notices = [c for c in changes if isinstance(c, Notice)]
    assert len(notices) == 1 and "no known web host" in notices[0].text
    users = documents(changes)["docs/release notes.md"]
    assert users.url == (repo.path.resolve() / "docs/release notes.md").as_uri()
    assert users.line_url.format(start=2, end=4).endswith("/docs/release%20notes.md#L2-L4")


async def test_relative_paths_and_url_locations_work(repo: SampleRepo, tmp_path: Path) -> None:
    # The tests run in tmp_path, so "widgets" is the sample repository.
    relative = GitSource("relative", "widgets", None, Path("data/checkouts"), 1_000_000)
    assert set(documents(await sync(relative))) == SAMPLE_INDEXED
    assert (tmp_path / "data/checkouts/relative/HEAD").exists()

    by_url = GitSource("by-url", repo.path.as_uri(), None, tmp_path / "checkouts", 1_000_000)  # a real (shallow) fetch
    first = repo.head
    changes = await sync(by_url)
    assert documents(changes)["README.md"].url == f"{repo.path.as_uri()}/README.md"
    repo.write("README.md", "# Widgets\n\nRenamed shop.\n")
    second = repo.commit("Readme")
    changes = await sync(by_url, first)
    assert [type(c) for c in changes] == [Notice, Document, Checkpoint]
    assert changes[-1] == Checkpoint(second)


def test_repo_spec_and_default_name() -> None:
    assert parse_repo_spec("https://github.com/acme/widgets.git#release/1.x") == (
        "https://github.com/acme/widgets.git",
        "release/1.x",
    )
    assert parse_repo_spec(" /srv/code ") == ("/srv/code", None)
    assert repo_name("https://github.com/acme/widgets.git") == "widgets"
    assert repo_name("git@github.com:acme/widgets.git") == "widgets"
    assert repo_name("ssh://git@host:7999/proj/api.git/") == "api"
    assert repo_name("/srv/code/lorebot/") == "lorebot"


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("app/main.go", "go"),
        ("src/App.tsx", "tsx"),
        ("src/api.ts", "typescript"),
        ("types/index.d.ts", "typescript"),
        ("web/app.jsx", "javascript"),
        ("lib/cli.mjs", "javascript"),
        ("src/Main.java", "java"),
        ("src/lib.rs", "rust"),
        ("lib/shop.rb", "ruby"),
        ("src/Store.cs", "csharp"),
        ("tools/run.PY", "python"),
        ("Makefile", "text"),
        ("src/Main.kt", "text"),
    ],
)
def test_file_formats_by_extension(path: str, fmt: str) -> None:
    assert file_format(path) == fmt
