"""The benchmark corpora: real codebases with their own docs and tests, from the package registries.

Each `bench/corpora/<name>/corpus.json` names a release: a PyPI sdist (which carries
`docs/` and `tests/`), a Go module zip from the module proxy (the whole repository at
that tag), an npm tarball (one whose package ships its sources, docs and tests) or a
Maven artifact's sources and test-sources jars (laid out as `src/main/java` and
`src/test/java`, as the project's repository has them; its docs are its Javadoc),
optionally pinned by its `sha256` (and the test jar's `tests_sha256`). `build(name)`
downloads it once, checks the digest when one is pinned, unpacks it without its top
folder and commits it as a git repository whose `origin` is the project's real host, so
lorebot's links take the host's own form. Question sets beside it: `dev.jsonl` (tuned on)
and `test.jsonl` (reported, never tuned on). A corpus may have only one of them: without
`dev.jsonl` it is never tuned on and serves as an untuned check on the test split
(`structlog`, `piscina`, `commons-text`); without
`test.jsonl` it only widens what is tuned on (`cobra`, `pino`, `dateutil`).

    python bench/corpora/build.py [NAME ...]   # build; prints each repository's path
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".work" / "corpora"
_COMMIT_DATE = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Corpus:
    name: str
    registry: str  # "pypi", "go", "npm" or "maven"
    package: str  # a Maven artifact as group:artifact
    version: str
    origin: str
    sha256: str | None = None  # of the downloaded archive (Maven: the sources jar); checked when given
    tests_sha256: str | None = None  # Maven: of the test-sources jar

    @property
    def repo(self) -> Path:
        return WORK / self.name

    def questions(self, split: str) -> Path:
        return HERE / self.name / f"{split}.jsonl"

    def has_split(self, split: str) -> bool:
        return self.questions(split).is_file()


def corpora() -> list[Corpus]:
    return [Corpus(path.parent.name, **json.loads(path.read_text())) for path in sorted(HERE.glob("*/corpus.json"))]


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


def _pypi_sdist(package: str, version: str) -> bytes:
    meta_url = f"https://pypi.org/pypi/{package}/json"
    releases = json.loads(_download(meta_url))["releases"]
    (sdist,) = [u for u in releases[version] if u["packagetype"] == "sdist"]
    return _download(urljoin(meta_url, sdist["url"]))


def _npm_tarball(package: str, version: str) -> bytes:
    """The registry's tarball of `package` (scoped or not) at `version`."""
    return _download(f"https://registry.npmjs.org/{package}/-/{package.rpartition('/')[2]}-{version}.tgz")


def _maven_jar(package: str, version: str, classifier: str) -> bytes:
    group, artifact = package.split(":")
    path = f"{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}-{classifier}.jar"
    return _download(f"https://repo1.maven.org/maven2/{path}")


def _checked(corpus: Corpus, data: bytes, pinned: str | None) -> bytes:
    """`data` when it matches the `pinned` digest (or none is pinned); else an error naming both."""
    if pinned is not None and (got := hashlib.sha256(data).hexdigest()) != pinned:
        raise ValueError(f"{corpus.name}: {corpus.package} {corpus.version} has sha256 {got}, pinned {pinned}")
    return data


def _unpack(corpus: Corpus, target: Path) -> None:
    """The release's files under `target`, without the archive's top folder."""
    if corpus.registry == "pypi":
        _untar(_checked(corpus, _pypi_sdist(corpus.package, corpus.version), corpus.sha256), target)
    elif corpus.registry == "npm":
        _untar(_checked(corpus, _npm_tarball(corpus.package, corpus.version), corpus.sha256), target)
    elif corpus.registry == "go":
        url = f"https://proxy.golang.org/{corpus.package.lower()}/@v/{corpus.version}.zip"
        prefix = f"{corpus.package}@{corpus.version}/"
        with zipfile.ZipFile(io.BytesIO(_checked(corpus, _download(url), corpus.sha256))) as archive:
            for info in archive.infolist():
                if not info.is_dir() and info.filename.startswith(prefix):
                    _write(target / info.filename.removeprefix(prefix), archive.read(info))
    elif corpus.registry == "maven":
        jars = (("sources", "main", corpus.sha256), ("test-sources", "test", corpus.tests_sha256))
        for classifier, folder, pinned in jars:
            jar = _checked(corpus, _maven_jar(corpus.package, corpus.version, classifier), pinned)
            _unzip_jar(jar, target, f"src/{folder}/java")
    else:
        raise ValueError(f"{corpus.name}: unknown registry {corpus.registry!r}")


def _unzip_jar(data: bytes, target: Path, folder: str) -> None:
    """A sources jar's files under `target/folder`; the license and notice it carries in
    `META-INF/` go to the top, where the repository keeps them."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or name.endswith("MANIFEST.MF") or "/maven/" in name:
                continue
            meta = name.startswith("META-INF/")
            _write(target / name.removeprefix("META-INF/") if meta else target / folder / name, archive.read(info))


def _untar(data: bytes, target: Path) -> None:
    """A gzipped tar's files under `target`, without its top folder (an sdist's name, npm's `package/`)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            _, _, relative = member.name.partition("/")
            if member.isfile() and relative and (file := archive.extractfile(member)) is not None:
                _write(target / relative, file.read())


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build(corpus: Corpus) -> Path:
    """The corpus as a committed git repository (built once; later calls return it)."""
    if (corpus.repo / ".git").is_dir():
        return corpus.repo
    partial = corpus.repo.with_name(corpus.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _unpack(corpus, partial)
    env = {**os.environ, "GIT_AUTHOR_DATE": _COMMIT_DATE, "GIT_COMMITTER_DATE": _COMMIT_DATE}
    git = ["git", "-C", str(partial), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A", "-f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", f"{corpus.package} {corpus.version}"], check=True, env=env)
    subprocess.run([*git, "remote", "add", "origin", corpus.origin], check=True)
    partial.rename(corpus.repo)
    return corpus.repo


if __name__ == "__main__":
    wanted = set(sys.argv[1:])
    for corpus in corpora():
        if not wanted or corpus.name in wanted:
            print(build(corpus))
