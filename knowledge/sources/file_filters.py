"""Which repository files are never indexed, and why.

Pure rules over a repo-relative path, its size and (optionally) its bytes, so the
git source can reject most files before reading them. Secrets are rejected by name
and, for any file that is read, by content: a secret must never reach the index.
Text or binary is git's own rule: a NUL byte in the first 8,000 bytes. Every other
file is text in some encoding and is indexed (`text_encoding.py` reads it).
"""

from __future__ import annotations

from pathlib import PurePosixPath

SECRET = "secret"
BINARY = "binary"
TOO_LARGE = "too large"
VENDORED = "vendored"
GENERATED = "generated"
LOCK_FILE = "lock file"

_VENDORED_DIRS = frozenset(
    {
        "node_modules",
        "bower_components",
        "jspm_packages",
        "vendor",
        "third_party",
        "dist",
        "build",
        "site-packages",
        ".venv",
        "venv",
        "__pycache__",
        ".yarn",
    }
)

_LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "pipfile.lock",
        "pdm.lock",
        "uv.lock",
        "cargo.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "mix.lock",
        "flake.lock",
        "packages.lock.json",
        "podfile.lock",
        "pubspec.lock",
    }
)

_GENERATED_SUFFIXES = (".min.js", ".min.css", ".js.map", ".css.map", "_pb2.py", "_pb2_grpc.py", ".pb.go")

_SECRET_NAMES = frozenset(
    {
        ".netrc",
        "_netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".htpasswd",
        ".pgpass",
        ".dockercfg",
        "known_hosts",
        "authorized_keys",
    }
)
_SECRET_PREFIXES = (".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials", "secrets.")
_SECRET_SUFFIXES = (
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".jks",
    ".keystore",
    ".kdbx",
    ".ppk",
    ".tfstate",
    ".tfstate.backup",
    ".secret",
    ".secrets",
)

_ENV_EXAMPLES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})

_BINARY_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".tiff",
        ".psd",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".tar",
        ".jar",
        ".war",
        ".whl",
        ".so",
        ".dylib",
        ".dll",
        ".exe",
        ".o",
        ".a",
        ".class",
        ".pyc",
        ".wasm",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp3",
        ".mp4",
        ".mov",
        ".avi",
        ".wav",
        ".sqlite",
        ".db",
        ".parquet",
        ".npy",
        ".pkl",
    }
)

_BINARY_PROBE_BYTES = 8000  # how far git looks for a NUL byte (xdiff's buffer_is_binary)


def path_skip_reason(path: str, size: int, max_bytes: int) -> str | None:
    """Why `path` (of `size` bytes) is not indexed, judged without reading it; None if it may be."""
    parts = PurePosixPath(path).parts
    name = parts[-1].lower() if parts else ""
    if _is_secret_name(name):
        return SECRET
    if any(part.lower() in _VENDORED_DIRS for part in parts[:-1]):
        return VENDORED
    if name in _LOCK_FILES or name.endswith(".lock"):
        return LOCK_FILE
    if name.endswith(_GENERATED_SUFFIXES):
        return GENERATED
    if PurePosixPath(name).suffix in _BINARY_SUFFIXES:
        return BINARY
    if size > max_bytes:
        return TOO_LARGE
    return None


def skip_reason(path: str, data: bytes, max_bytes: int) -> str | None:
    """Why a file with these bytes is not indexed; None if it may be (it is text, in some encoding)."""
    reason = path_skip_reason(path, len(data), max_bytes)
    if reason:
        return reason
    if b"\x00" in data[:_BINARY_PROBE_BYTES]:
        return BINARY
    return None


def _is_secret_name(name: str) -> bool:
    if name in _ENV_EXAMPLES:
        return False
    return name in _SECRET_NAMES or name.startswith(_SECRET_PREFIXES) or name.endswith(_SECRET_SUFFIXES)
