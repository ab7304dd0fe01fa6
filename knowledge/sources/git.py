"""The git repository source: tracked files at a branch head, incrementally by commit.

The clone under `checkout_root` is bare: contents are read from git objects at the
indexed commit (one `git cat-file --batch` process for all files), never from a
working tree. The branch head is kept in `refs/lorebot/head`; the cursor is the
commit sha last indexed, and later syncs diff from it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from knowledge.documents import Document
from knowledge.private_files import private_directory
from knowledge.sources import (
    Change,
    Checkpoint,
    Deletion,
    Listing,
    Notice,
    Skipped,
    SourceConfigError,
    SourceError,
)
from knowledge.sources.connectors import Connector, SourceConfig, SourceContext
from knowledge.sources.file_filters import path_skip_reason, skip_reason
from knowledge.sources.repo_links import WebRepo, parse_remote, path_links, strip_credentials
from knowledge.sources.text_encoding import UTF8, decode_text

logger = logging.getLogger(__name__)

_HEAD_REF = "refs/lorebot/head"
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_FORMATS = {
    ".py": "python",
    ".pyi": "python",
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
    ".rb": "ruby",
    ".rake": "ruby",
    ".cs": "csharp",
}
# Never wait for a password prompt: a scheduled sync has nobody to type it.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C"}


def parse_repo_spec(spec: str) -> tuple[str, str | None]:
    """A `REPOS` entry `url-or-path#branch` → (location, branch or None)."""
    location, _, branch = spec.strip().partition("#")
    return location.strip(), branch.strip() or None


def file_format(path: str) -> str:
    """The chunking format of a repository file, by its extension (`Document.format`)."""
    return _FORMATS.get(PurePosixPath(path).suffix.lower(), "text")


def repo_name(location: str) -> str:
    """A default source name: the last path component without `.git`."""
    trimmed = location.strip().rstrip("/")
    if "://" in trimmed:
        trimmed = urlsplit(trimmed).path.rstrip("/")
    else:
        trimmed = trimmed.rsplit(":", 1)[-1]
    name = PurePosixPath(trimmed).name.removesuffix(".git")
    return name or Path(location).expanduser().resolve().name


@dataclass(frozen=True)
class _Entry:
    """A tracked blob at the head commit."""

    path: str
    sha: str
    size: int


class _GitFailed(Exception):
    def __init__(self, args: Iterable[str], stderr: bytes) -> None:
        self.detail = strip_credentials(stderr.decode("utf-8", "replace").strip())
        super().__init__(strip_credentials(f"git {' '.join(args)}: {self.detail}"))


class GitSource:
    kind = "git"

    def __init__(self, name: str, location: str, branch: str | None, checkout_root: Path, max_file_bytes: int) -> None:
        self.name = name
        self.location = location
        self.branch = branch
        self.max_file_bytes = max_file_bytes
        safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".") or "repo"
        self.clone_dir = checkout_root.expanduser().absolute() / safe_name
        self._entry = strip_credentials(location) + (f"#{branch}" if branch else "")  # for messages

    @property
    def _remote(self) -> str:
        """What git fetches from: a local path made absolute (git runs in the clone), else the URL."""
        local = Path(self.location).expanduser()
        return str(local.resolve()) if local.exists() else self.location

    async def changes(self, cursor: str | None, indexed: Mapping[str, str]) -> AsyncIterator[Change]:
        head = await self._update()
        if cursor == head:
            yield Checkpoint(head)
            return
        web = await self._web_repo()
        if web is None:
            yield Notice(
                f"Repository {self._entry} has no known web host "
                "(GitHub, GitLab, Bitbucket), so its links are file paths."
            )
        entries = await self._tree(head)
        if cursor is not None and await self._has_commit(cursor):
            changed = self._diff_changes(cursor, head, entries, web)
        else:
            changed = self._all_files(head, entries, web)
        async for change in changed:
            yield change
        yield Checkpoint(head)

    async def _all_files(self, head: str, entries: dict[str, _Entry], web: WebRepo | None) -> AsyncIterator[Change]:
        eligible: set[str] = set()
        async for change in self._files(head, entries.values(), web):
            if isinstance(change, Document):
                eligible.add(change.external_id)
            yield change
        yield Listing(frozenset(eligible))

    async def _diff_changes(
        self, cursor: str, head: str, entries: dict[str, _Entry], web: WebRepo | None
    ) -> AsyncIterator[Change]:
        out = await self._git("diff", "--name-status", "-z", "-M", cursor, head)
        updated: list[_Entry] = []
        existed: set[str] = set()  # changed paths that may be indexed from before
        for status, old, new in _parse_name_status(out):
            if status == "R":
                yield Deletion(old)
            if status == "D":
                yield Deletion(new)
                continue
            if status not in "ARC":
                existed.add(new)
            if new in entries:
                updated.append(entries[new])
            elif new in existed:  # now a symlink or submodule
                yield Deletion(new)
        async for change in self._files(head, updated, web):
            if isinstance(change, Skipped) and change.external_id in existed:
                yield Deletion(change.external_id)
            yield change

    async def _files(self, head: str, entries: Iterable[_Entry], web: WebRepo | None) -> AsyncIterator[Change]:
        """A Document or Skipped for each entry, reading only blobs the path rules allow."""
        to_read: list[_Entry] = []
        for entry in entries:
            reason = path_skip_reason(entry.path, entry.size, self.max_file_bytes)
            if reason:
                yield Skipped(entry.path, reason)
            else:
                to_read.append(entry)
        async for entry, data in self._read_blobs(to_read):
            reason = skip_reason(entry.path, data, self.max_file_bytes)
            if reason:
                yield Skipped(entry.path, reason)
                continue
            text, encoding = decode_text(data)
            if encoding != UTF8:
                logger.info("%s: %s is not UTF-8; read as %s", self.name, entry.path, encoding)
            yield self._document(head, entry.path, text, web)

    def _document(self, head: str, path: str, text: str, web: WebRepo | None) -> Document:
        if web is None:
            url, line_url = path_links(self.location, path)
        else:
            url, line_url = web.file_url(head, path), web.line_url(head, path)
        return Document(
            source=self.name,
            external_id=path,
            kind="code",
            title=path,
            url=url,
            content=text,
            version=head,
            format=file_format(path),
            path=path,
            line_url=line_url,
        )

    async def _update(self) -> str:
        """Clone or fetch, point `refs/lorebot/head` at the branch head and return its sha."""
        private_directory(self.clone_dir.parent)  # the mirrors hold every file of the repository
        if (self.clone_dir / "HEAD").exists():
            source = f"refs/heads/{self.branch}" if self.branch else "HEAD"
            try:
                await self._git(
                    "fetch", "--quiet", "--no-tags", "--force", "--", self._remote, f"+{source}:{_HEAD_REF}"
                )
            except _GitFailed as exc:
                raise self._config_error("could not fetch", exc) from exc
        else:
            await self._clone()
        try:
            out = await self._git("rev-parse", "--verify", "--quiet", f"{_HEAD_REF}^{{commit}}")
        except _GitFailed as exc:
            raise SourceError(f"The repository {self._entry} has no commits to index.") from exc
        return out.decode().strip()

    async def _clone(self) -> None:
        partial = self.clone_dir.with_name(self.clone_dir.name + ".partial")
        await asyncio.to_thread(shutil.rmtree, partial, True)
        branch = [f"--branch={self.branch}"] if self.branch else []
        logger.info("cloning %s into %s", strip_credentials(self.location), self.clone_dir)
        try:
            await self._git(
                "clone",
                "--quiet",
                "--bare",
                "--depth=1",
                "--no-tags",
                *branch,
                "--",
                self._remote,
                str(partial),
                cwd=self.clone_dir.parent,
            )
            await self._git("update-ref", _HEAD_REF, "HEAD", cwd=partial)
        except _GitFailed as exc:
            await asyncio.to_thread(shutil.rmtree, partial, True)
            raise self._config_error("could not clone", exc) from exc
        partial.rename(self.clone_dir)

    async def _tree(self, head: str) -> dict[str, _Entry]:
        out = await self._git("ls-tree", "-r", "-z", "-l", "--full-tree", head)
        entries: dict[str, _Entry] = {}
        for record in out.decode("utf-8", "replace").split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, kind, sha, size = meta.split()
            if kind == "blob" and mode != "120000":  # symlinks and submodules are not files here
                entries[path] = _Entry(path, sha, int(size))
        return entries

    async def _has_commit(self, sha: str) -> bool:
        if not _SHA.fullmatch(sha):
            return False
        try:
            await self._git("cat-file", "-e", f"{sha}^{{commit}}")
        except _GitFailed:
            logger.info("%s: commit %s is gone (force push?); syncing everything", self.name, sha)
            return False
        return True

    async def _web_repo(self) -> WebRepo | None:
        local = Path(self.location).expanduser()
        if not local.exists():
            return parse_remote(self.location)
        try:
            origin = await self._git("remote", "get-url", "origin", cwd=local)
        except _GitFailed:
            return None
        return parse_remote(origin.decode().strip())

    async def _read_blobs(self, entries: list[_Entry]) -> AsyncIterator[tuple[_Entry, bytes]]:
        """Each entry with its bytes, from one `git cat-file --batch` process."""
        if not entries:
            return
        proc = await self._spawn("cat-file", "--batch", cwd=self.clone_dir)
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None

        async def feed() -> None:
            for entry in entries:
                stdin.write(f"{entry.sha}\n".encode())
                await stdin.drain()
            stdin.close()

        feeder = asyncio.create_task(feed())
        try:
            for entry in entries:
                header = (await stdout.readline()).split()
                if len(header) != 3:
                    raise SourceError(f"git could not read {entry.path} from {self._entry}.")
                data = await stdout.readexactly(int(header[2]) + 1)
                yield entry, data[:-1]
            await feeder
        finally:
            feeder.cancel()
            if proc.returncode is None:
                proc.kill()
            await proc.wait()

    async def _git(self, *args: str, cwd: Path | None = None) -> bytes:
        proc = await self._spawn(*args, cwd=cwd or self.clone_dir, stdin=False)
        out, err = await proc.communicate()
        if proc.returncode:
            raise _GitFailed(args, err)
        return out

    async def _spawn(self, *args: str, cwd: Path, stdin: bool = True) -> asyncio.subprocess.Process:
        env = {**os.environ, **_GIT_ENV}
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        try:
            return await asyncio.create_subprocess_exec(
                "git",
                *args,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            if exc.filename != "git":  # a missing working directory, not a missing git
                raise
            raise SourceConfigError(f"git is not installed (needed for the REPOS entry {self._entry}).") from exc

    def _config_error(self, action: str, exc: _GitFailed) -> SourceConfigError:
        logger.warning("%s: %s", self.name, exc)
        reason = exc.detail.splitlines()[-1] if exc.detail else "no detail"
        return SourceConfigError(
            f"git {action} {self._entry} ({reason}); check this REPOS entry (URL or path, branch, access)."
        )


def _parse_name_status(out: bytes) -> list[tuple[str, str, str]]:
    """`git diff --name-status -z` → (status letter, old path, new path)."""
    fields = out.decode("utf-8", "replace").split("\0")
    changes: list[tuple[str, str, str]] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i][0]
        if status in "RC":
            changes.append((status, fields[i + 1], fields[i + 2]))
            i += 3
        else:
            changes.append((status, fields[i + 1], fields[i + 1]))
            i += 2
    return changes


class GitConfig(SourceConfig):
    """A `[[sources]]` entry of kind "git" (a `REPOS` item becomes one with just `url`)."""

    kind: Literal["git"]
    url: str
    """A git URL or a local path, optionally `…#branch`."""
    branch: str | None = None


def _build(config: GitConfig, name: str, context: SourceContext) -> GitSource:
    location, branch = parse_repo_spec(config.url)
    return GitSource(name, location, config.branch or branch, context.data_dir / "repos", context.max_file_bytes)


CONNECTOR = Connector("git", GitConfig, _build, lambda config: repo_name(parse_repo_spec(config.url)[0]))
