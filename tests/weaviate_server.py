"""A real Weaviate server for the tests and benchmarks: built once from its Go module,
started single-node on free loopback ports with its data in a temporary directory.

    python -m tests.weaviate_server build   # build (or find) the cached binary, print its path
    python -m tests.weaviate_server run     # start one and print its URLs; Ctrl-C or SIGTERM stops it

The binary is cached outside the checkout, keyed on the tag:
`${XDG_CACHE_HOME:-~/.cache}/lorebot/weaviate/<tag>-loopback/bin/weaviate-server`.

Why "-loopback": Weaviate binds its public gRPC port and its internal cluster-data port to
every interface (`net.Listen(":<port>")`, no setting changes the host), and the debug
listener too. A test server with anonymous access must not be reachable from the network,
so the build takes the module's own source (`go mod download`, default GOMODCACHE), copies
it, rewrites exactly those `":%d"` listen addresses to `"127.0.0.1:%d"` (the build stops if
the source no longer has them where expected) and builds it with the same flags as
`CGO_ENABLED=0 go install -trimpath -tags netgo <module>/cmd/weaviate-server@<tag>`.
Every other listener is bound by setting: REST by `--host`, gossip, RAFT and RAFT RPC by
`CLUSTER_BIND_ADDR`. After start-up, on Linux, the server's sockets are checked: a
listener on anything but 127.0.0.1 stops the server with an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TAG = "v1.39.0"
MODULE = "github.com/weaviate/weaviate"
PACKAGE = "./cmd/weaviate-server"
HOST = "127.0.0.1"
NODE = "lorebot-test-node"
SMALL_QUERY_MAXIMUM_RESULTS = 100  # for the server that tests request limits (QUERY_MAXIMUM_RESULTS)
# How the tests' server behaves, beside its ports and addresses; deploy/docker-compose.yml
# runs Weaviate with the same (tests/test_deploy_files.py checks it).
BEHAVIOUR = {
    "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
    "DEFAULT_VECTORIZER_MODULE": "none",
    "AUTOSCHEMA_ENABLED": "false",
    "DISABLE_TELEMETRY": "true",
    "GO_PROFILING_DISABLE": "true",
    "PROMETHEUS_MONITORING_ENABLED": "false",
    "RAFT_BOOTSTRAP_EXPECT": "1",
}

# Files of the module that bind to every interface, and how many such listen calls each has.
_WILDCARD_LISTEN = 'fmt.Sprintf(":%d"'
_LOOPBACK_LISTEN = f'fmt.Sprintf("{HOST}:%d"'
_PATCHED_FILES = {
    "adapters/handlers/grpc/server.go": 1,  # public gRPC (GRPC_PORT)
    "adapters/handlers/rest/clusterapi/serve.go": 1,  # cluster data API (CLUSTER_DATA_BIND_PORT)
    "adapters/handlers/rest/clusterapi/grpc/server.go": 1,  # its gRPC variant
    "adapters/handlers/rest/configure_api.go": 2,  # metrics and debug listeners (both off here anyway)
}


class ServerUnavailable(Exception):
    """No server can be had here: no WEAVIATE_URL, no cached binary and no Go to build one."""


class ServerFailed(Exception):
    """The server was built but did not build, start or stay on loopback; the message has its log tail."""


def cache_dir(tag: str = TAG) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lorebot" / "weaviate" / f"{tag}-loopback"


def binary_path(tag: str = TAG) -> Path:
    return cache_dir(tag) / "bin" / "weaviate-server"


def build_instructions(tag: str = TAG) -> str:
    return (
        f"install Go (1.26 or newer) and run `python -m tests.weaviate_server build`, which runs "
        f"`go mod download -json {MODULE}@{tag}`, copies that module, binds its gRPC and data listeners "
        f"to {HOST}, then `CGO_ENABLED=0 go build -trimpath -tags netgo -o {binary_path(tag)} {PACKAGE}` "
        "in the copy (about 5 minutes from an empty module cache); or set WEAVIATE_URL to a running server"
    )


def ensure_binary(tag: str = TAG, log=None) -> Path:
    """The cached server binary, building it first when it is missing."""
    target = binary_path(tag)
    if target.is_file():
        return target
    go = shutil.which("go")
    if go is None:
        raise ServerUnavailable(
            f"no Weaviate server binary at {target} and no Go toolchain to build it: " + build_instructions(tag)
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir(tag) / ".build-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it right now
        if not target.is_file():
            _build(go, tag, target, log or (lambda message: print(message, file=sys.__stderr__, flush=True)))
    return target


def _build(go: str, tag: str, target: Path, log) -> None:
    log(f"building Weaviate {tag} into {target} (once; minutes from an empty Go module cache)")
    download = _run([go, "mod", "download", "-json", f"{MODULE}@{tag}"], cwd=Path(tempfile.gettempdir()))
    source = Path(json.loads(download)["Dir"])
    with tempfile.TemporaryDirectory(prefix="lorebot-weaviate-build-") as work:
        copy = Path(work) / "src"
        shutil.copytree(source, copy, copy_function=shutil.copyfile)  # module cache files are read-only
        for directory, _, _ in os.walk(copy):
            os.chmod(directory, 0o755)
        for relative, expected in _PATCHED_FILES.items():
            path = copy / relative
            text = path.read_text()
            if text.count(_WILDCARD_LISTEN) != expected:
                raise ServerFailed(
                    f"{MODULE}@{tag}: {relative} no longer has {expected} `{_WILDCARD_LISTEN}` listen "
                    "address(es); check where this version binds its listeners and update tests/weaviate_server.py"
                )
            path.write_text(text.replace(_WILDCARD_LISTEN, _LOOPBACK_LISTEN))
        partial = target.with_suffix(".partial")
        _run(
            [go, "build", "-trimpath", "-tags", "netgo", "-o", str(partial), PACKAGE],
            cwd=copy,
            env={**os.environ, "CGO_ENABLED": "0"},
        )
        os.replace(partial, target)
    log(f"built {target}")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
        raise ServerFailed(f"`{' '.join(command)}` failed ({result.returncode}):\n{tail}")
    return result.stdout


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports free for TCP and UDP (gossip uses both on one port)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.bind((HOST, 0))
            held.append(tcp)
            port = tcp.getsockname()[1]
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.bind((HOST, port))
            except OSError:
                udp.close()
                continue
            held.append(udp)
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


@dataclass
class WeaviateServer:
    """One single-node server process. `env` adds or overrides server settings
    (e.g. {"QUERY_MAXIMUM_RESULTS": "100"})."""

    binary: Path
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 90.0
    http_port: int = 0
    grpc_port: int = 0
    process: subprocess.Popen | None = None
    workdir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "weaviate.log"

    def start(self) -> WeaviateServer:
        self.workdir = Path(tempfile.mkdtemp(prefix="lorebot-weaviate-"))
        for attempt in range(3):  # a port picked as free can be taken before the server binds it
            try:
                self._start_once()
                return self
            except ServerFailed as error:
                self._terminate()
                shutil.rmtree(self.workdir / "data", ignore_errors=True)
                if attempt == 2 or "address already in use" not in str(error):
                    self.stop()
                    raise
        return self

    def _start_once(self) -> None:
        assert self.workdir is not None
        http, grpc, gossip, data, raft, raft_rpc = _free_ports(6)
        self.http_port, self.grpc_port = http, grpc
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            "PERSISTENCE_DATA_PATH": str(self.workdir / "data"),
            "GRPC_PORT": str(grpc),
            "CLUSTER_HOSTNAME": NODE,
            "CLUSTER_BIND_ADDR": HOST,
            "CLUSTER_ADVERTISE_ADDR": HOST,
            "CLUSTER_GOSSIP_BIND_PORT": str(gossip),
            "CLUSTER_DATA_BIND_PORT": str(data),
            "RAFT_PORT": str(raft),
            "RAFT_INTERNAL_RPC_PORT": str(raft_rpc),
            "RAFT_JOIN": f"{NODE}:{raft}",
            **BEHAVIOUR,
            **self.env,
        }
        command = [str(self.binary), "--host", HOST, "--port", str(http), "--scheme", "http"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir
            )
        self._wait_until_ready()
        self._check_loopback_only()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"Weaviate exited with code {self.process.returncode} while starting; log tail:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/v1/.well-known/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise ServerFailed(
            f"Weaviate did not answer /v1/.well-known/ready within {self.ready_timeout:g} s; "
            f"log tail:\n{self.log_tail()}"
        )

    def _check_loopback_only(self) -> None:
        assert self.process is not None
        exposed = non_loopback_sockets(self.process.pid)
        if exposed:
            raise ServerFailed(f"Weaviate listens beyond {HOST}: {', '.join(exposed)}; stopped it")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """Stop the process at once (SIGKILL), keeping its files: for tests of a vanished server."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _terminate(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        self._terminate()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def non_loopback_sockets(pid: int) -> list[str]:
    """`proto addr:port` of this process's TCP listeners and unconnected UDP sockets that are
    not on 127.0.0.1 or ::1 (Linux /proc; elsewhere nothing is checked)."""
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return []
    inodes = set()
    for fd in (proc / "fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    exposed = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / proto).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                listening = state == "0A" if proto.startswith("tcp") else not remote.strip("0:")
                if inode not in inodes or not listening:  # 0A: LISTEN; UDP: bound, not connected
                    continue
                address, port = local.split(":")
                if address not in ("0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"):
                    if len(address) == 8:
                        address = socket.inet_ntoa(bytes.fromhex(address)[::-1])
                    exposed.append(f"{proto} {address}:{int(port, 16)}")
    return exposed


@contextlib.contextmanager
def running_server(env: dict[str, str] | None = None, tag: str = TAG) -> Iterator[WeaviateServer]:
    server = WeaviateServer(ensure_binary(tag), env or {}).start()
    try:
        yield server
    finally:
        server.stop()


def fresh_collection() -> str:
    """A collection name no other test uses, so tests sharing one server never see each other's data."""
    return f"LorebotTest{uuid.uuid4().hex[:10]}"


def endpoint(stack: contextlib.ExitStack, url: str | None, grpc_url: str | None) -> tuple[str, str | None]:
    """`url` (and `grpc_url`) of a running server when given; else a server built and started
    here for the life of `stack` (the benchmarks' `--weaviate-url` option)."""
    if url:
        return url, grpc_url
    server = stack.enter_context(running_server())
    return server.url, server.grpc_url


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "build"
    try:
        if command == "build":
            print(ensure_binary())
        elif command == "run":
            for stop in (signal.SIGINT, signal.SIGTERM):  # also when started in the background (SIGINT ignored)
                signal.signal(stop, lambda *_: sys.exit(0))
            with running_server() as server:
                print(f"WEAVIATE_URL={server.url} WEAVIATE_GRPC_URL={server.grpc_url}", flush=True)
                server.process.wait()
        else:
            print(__doc__)
            return 2
    except (ServerUnavailable, ServerFailed) as error:
        print(f"weaviate_server: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
