"""Web links to a file at a commit, derived from a repository's remote URL.

GitHub, GitLab and Bitbucket (cloud and self-hosted, detected by host name) each have
their own blob and line-range forms. Anything else gets path-based links. Line links
are `str.format` templates with `{start}` and `{end}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

Host = Literal["github", "gitlab", "bitbucket", "bitbucket-server"]

_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_MARKUP_SUFFIXES = (".md", ".markdown", ".rst")


@dataclass(frozen=True)
class WebRepo:
    """A repository on a known web host: `base` is e.g. `https://github.com/acme/widgets`."""

    host: Host
    base: str

    def file_url(self, sha: str, path: str) -> str:
        encoded = quote(path)
        if self.host == "github":
            return f"{self.base}/blob/{sha}/{encoded}"
        if self.host == "gitlab":
            return f"{self.base}/-/blob/{sha}/{encoded}"
        if self.host == "bitbucket":
            return f"{self.base}/src/{sha}/{encoded}"
        return f"{self.base}/browse/{encoded}?at={sha}"

    def line_url(self, sha: str, path: str) -> str:
        url = _escape_braces(self.file_url(sha, path))
        if self.host == "github":
            # GitHub renders markup files; line anchors only work on the plain view.
            plain = "?plain=1" if path.lower().endswith(_MARKUP_SUFFIXES) else ""
            return url + plain + "#L{start}-L{end}"
        if self.host == "gitlab":
            return url + "#L{start}-{end}"
        if self.host == "bitbucket":
            return url + "#lines-{start}:{end}"
        return url + "#{start}-{end}"


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x` → `https://host/x` (also inside longer text)."""
    return _CREDENTIALS.sub("", url)


def parse_remote(remote: str) -> WebRepo | None:
    """The web repository behind a clone URL (https, ssh, scp-like), or None for unknown hosts."""
    remote = remote.strip()
    if "://" in remote:
        parts = urlsplit(remote)
        host, path = parts.hostname or "", parts.path
        scheme = "http" if parts.scheme == "http" else "https"
        port = f":{parts.port}" if parts.port and parts.scheme in ("http", "https") else ""
    else:
        match = _SCP_LIKE.match(remote)
        if not match:
            return None
        host, path, scheme, port = match["host"], match["path"], "https", ""
    path = path.strip("/").removesuffix(".git").strip("/")
    host = host.lower()
    if not host or path.count("/") < 1:
        return None
    kind = _host_kind(host)
    if kind is None:
        return None
    if kind == "bitbucket-server":
        server_path = _bitbucket_server_path(path)
        if server_path is None:
            return None
        path = server_path
    return WebRepo(kind, f"{scheme}://{host}{port}/{path}")


def path_links(location: str, path: str) -> tuple[str, str]:
    """Path-based (url, line_url template) for a repository with no known web host."""
    local = Path(location).expanduser()
    if local.exists():
        url = (local.resolve() / path).as_uri()
    else:
        url = f"{strip_credentials(location).rstrip('/')}/{quote(path)}"
    return url, _escape_braces(url) + "#L{start}-L{end}"


def _host_kind(host: str) -> Host | None:
    if "github" in host:
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if host == "bitbucket.org":
        return "bitbucket"
    if "bitbucket" in host:
        return "bitbucket-server"
    return None


def _bitbucket_server_path(path: str) -> str | None:
    """Bitbucket Server clone paths are `scm/<project>/<repo>`; pages are `projects/P/repos/r`."""
    parts = path.split("/")
    if parts[0] == "scm":
        parts = parts[1:]
    if len(parts) != 2:
        return None
    return f"projects/{parts[0].upper()}/repos/{parts[1]}"


def _escape_braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")
