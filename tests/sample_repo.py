"""A throwaway git repository for tests, built with the real git CLI (no network).

    repo = SampleRepo.with_sample_files(tmp_path / "widgets")   # files of SAMPLE_FILES, committed
    repo.write("widgets/users.py", "...")
    repo.rename("README.md", "docs/README.md")
    repo.delete("web/app.js")
    sha = repo.commit("edit")

Its `origin` remote is `git@github.com:acme/widgets.git`, set but never fetched, so
file links come out as GitHub links. `SAMPLE_SECRETS` must never reach an index: `.env`
is skipped by its name, the key in `config/tls.txt` is redacted by the sync pipeline.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GITHUB_ORIGIN = "git@github.com:acme/widgets.git"

FAKE_SECRET = "lorebot-fake-api-key-7c1e9b"
FAKE_KEY_MATERIAL = "lorebot-fake-private-key-material-41d2"
# Assembled so this helper is not itself a file that looks like it holds a key.
_PEM_BEGIN, _PEM_END = "-----BEGIN RSA " + "PRIVATE KEY-----", "-----END RSA " + "PRIVATE KEY-----"
SAMPLE_SECRETS = (FAKE_SECRET, FAKE_KEY_MATERIAL)

USERS_PY = '''"""User lookups for the widget shop."""

import logging

logger = logging.getLogger(__name__)


def get_user_name(user_id: int) -> str:
    """The display name of a user."""
    return f"user-{user_id}"


class UserStore:
    """Keeps users in memory."""

    def __init__(self) -> None:
        self.users: dict[int, str] = {}

    def add_user(self, user_id: int, name: str) -> None:
        logger.info("adding %s", user_id)
        self.users[user_id] = name
'''

README_MD = """# Widgets

The widget shop.

## Install

Run `pip install widgets`.

## Usage

Call `get_user_name` to greet people.
"""

GUIDE_RST = """Guide
=====

How widgets are priced.

Pricing
-------

Prices come from the inventory service.
"""

APP_JS = """export function renderWidget(widget) {
  return `<div>${widget.name}</div>`;
}
"""

SAMPLE_FILES: dict[str, str | bytes] = {
    "README.md": README_MD,
    "docs/guide.rst": GUIDE_RST,
    "docs/release notes.md": "# Release notes\n\n## 1.0\n\nFirst release.\n",
    "widgets/__init__.py": '"""The widgets package."""\n',
    "widgets/users.py": USERS_PY,
    "widgets/broken.py": "def broken(:\n    return 1\n",
    "web/app.js": APP_JS,
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64)),
    "data/blob.bin": b"header\x00\x01\x02 binary payload",
    ".env": f"API_KEY={FAKE_SECRET}\nDEBUG=1\n",
    "config/tls.txt": f"{_PEM_BEGIN}\n{FAKE_KEY_MATERIAL}\n{_PEM_END}\n",
    "node_modules/left-pad/index.js": "module.exports = (s) => s;\n",
    "package-lock.json": '{"lockfileVersion": 3}\n',
}

# What a sync of SAMPLE_FILES yields: indexed paths, and skipped paths with their reasons.
SAMPLE_INDEXED = frozenset(
    {
        "README.md",
        "docs/guide.rst",
        "docs/release notes.md",
        "widgets/__init__.py",
        "widgets/users.py",
        "widgets/broken.py",
        "web/app.js",
        "config/tls.txt",
    }
)
SAMPLE_SKIPPED = {
    "assets/logo.png": "binary",
    "data/blob.bin": "binary",
    ".env": "secret",
    "node_modules/left-pad/index.js": "vendored",
    "package-lock.json": "lock file",
}

# Text in any encoding is indexed; only git's binary rule (a NUL byte early on) skips a file.
LATIN1_PY = (
    '"""Prix du café et de la crème brûlée, servis à la carte."""\n\n\n'
    "def prix_du_cafe() -> float:\n"
    '    """Le prix d\'un café, en euros."""\n'
    "    return 2.5\n"
)
MENU_MD = "# Menu\n\nOur café serves crème brûlée.\nIt’s open every day.\n"
ENCODING_FILES: dict[str, bytes] = {
    "legacy/prix.py": LATIN1_PY.encode("latin-1"),
    "docs/menu.md": MENU_MD.encode().replace("’".encode(), b"\x92"),  # one byte pasted from cp1252
    "tools/compress": b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)),  # a program: no suffix to tell
}

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Sample Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Sample Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


class SampleRepo:
    """A git working tree at `path` with helpers to change it and commit."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, origin: str | None = GITHUB_ORIGIN, branch: str = "main") -> SampleRepo:
        """An empty repository; `origin=None` leaves it without a remote."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--quiet", f"--initial-branch={branch}")
        if origin:
            repo.git("remote", "add", "origin", origin)
        return repo

    @classmethod
    def with_sample_files(cls, path: Path, origin: str | None = GITHUB_ORIGIN) -> SampleRepo:
        """A repository holding SAMPLE_FILES in one commit."""
        repo = cls.create(path, origin)
        for name, content in SAMPLE_FILES.items():
            repo.write(name, content)
        repo.commit("Initial widgets")
        return repo

    def write(self, path: str, content: str | bytes) -> None:
        target = self.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def rename(self, old: str, new: str) -> None:
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def delete(self, path: str) -> None:
        self.git("rm", "--quiet", path)

    def commit(self, message: str) -> str:
        """Stage everything and commit; returns the new commit sha."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", message)
        return self.head

    def checkout(self, branch: str, create: bool = False) -> None:
        self.git("checkout", "--quiet", *(["-b"] if create else []), branch)

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **_GIT_ENV},
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()
