"""Web links for files at a commit, from the forms remotes come in."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.sources.repo_links import WebRepo, parse_remote, path_links, strip_credentials

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/widgets.git", WebRepo("github", "https://github.com/acme/widgets")),
        ("https://github.com/acme/widgets", WebRepo("github", "https://github.com/acme/widgets")),
        ("git@github.com:acme/widgets.git", WebRepo("github", "https://github.com/acme/widgets")),
        ("ssh://git@github.com/acme/widgets.git", WebRepo("github", "https://github.com/acme/widgets")),
        (
            "https://x-access-token:secret@github.com/acme/widgets.git",
            WebRepo("github", "https://github.com/acme/widgets"),
        ),
        ("git@github.example.com:acme/widgets.git", WebRepo("github", "https://github.example.com/acme/widgets")),
        ("git@gitlab.com:group/sub/repo.git", WebRepo("gitlab", "https://gitlab.com/group/sub/repo")),
        ("https://gitlab.internal:8443/group/repo.git", WebRepo("gitlab", "https://gitlab.internal:8443/group/repo")),
        ("ssh://git@gitlab.internal:2222/group/repo.git", WebRepo("gitlab", "https://gitlab.internal/group/repo")),
        ("git@bitbucket.org:team/repo.git", WebRepo("bitbucket", "https://bitbucket.org/team/repo")),
        ("https://me@bitbucket.org/team/repo.git", WebRepo("bitbucket", "https://bitbucket.org/team/repo")),
        (
            "https://bitbucket.acme.io/scm/web/shop.git",
            WebRepo("bitbucket-server", "https://bitbucket.acme.io/projects/WEB/repos/shop"),
        ),
        (
            "ssh://git@bitbucket.acme.io:7999/web/shop.git",
            WebRepo("bitbucket-server", "https://bitbucket.acme.io/projects/WEB/repos/shop"),
        ),
    ],
)
def test_known_hosts_are_recognised_in_every_remote_form(remote: str, expected: WebRepo) -> None:
    assert parse_remote(remote) == expected


@pytest.mark.parametrize(
    "remote",
    [
        "https://git.example.com/team/repo.git",
        "/srv/git/repo",
        "file:///srv/git/repo",
        "",
        "git@github.com:onlyowner",
    ],
)
def test_unknown_hosts_and_paths_have_no_web_repo(remote: str) -> None:
    assert parse_remote(remote) is None


def test_each_host_has_its_own_blob_and_line_range_form() -> None:
    forms = {
        "git@github.com:o/r.git": "https://github.com/o/r/blob/{sha}/src/my app.py#L10-L42",
        "git@gitlab.com:g/sub/r.git": "https://gitlab.com/g/sub/r/-/blob/{sha}/src/my app.py#L10-42",
        "git@bitbucket.org:w/r.git": "https://bitbucket.org/w/r/src/{sha}/src/my app.py#lines-10:42",
        "https://bitbucket.acme.io/scm/p/r.git": "https://bitbucket.acme.io/projects/P/repos/r/browse/src/my app.py?at={sha}#10-42",
    }
    for remote, expected in forms.items():
        web = parse_remote(remote)
        assert web is not None
        expected_url = expected.replace("{sha}", SHA).replace(" ", "%20")
        assert web.line_url(SHA, "src/my app.py").format(start=10, end=42) == expected_url
        assert web.file_url(SHA, "src/my app.py") == expected_url.split("#")[0]


def test_github_markup_line_links_use_the_plain_view() -> None:
    web = WebRepo("github", "https://github.com/o/r")
    assert web.line_url(SHA, "docs/Guide.md").format(start=1, end=5) == (
        f"https://github.com/o/r/blob/{SHA}/docs/Guide.md?plain=1#L1-L5"
    )


def test_paths_are_encoded_and_braces_survive_the_template() -> None:
    web = WebRepo("github", "https://github.com/o/r")
    template = web.line_url(SHA, "a/{weird} #name?.py")
    assert template.format(start=1, end=2) == f"https://github.com/o/r/blob/{SHA}/a/%7Bweird%7D%20%23name%3F.py#L1-L2"


def test_path_links_for_a_local_checkout_and_an_unknown_remote(tmp_path: Path) -> None:
    url, line_url = path_links(str(tmp_path), "a b/{c}.txt")
    assert url == (tmp_path / "a b/{c}.txt").as_uri()
    assert line_url.format(start=3, end=4) == url + "#L3-L4"

    url, _ = path_links("https://user:pw@git.example.com/repo.git", "x y.py")
    assert url == "https://git.example.com/repo.git/x%20y.py"


def test_credentials_are_stripped() -> None:
    assert strip_credentials("fatal: https://u:tok@host/x.git not found") == "fatal: https://host/x.git not found"
