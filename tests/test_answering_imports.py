"""litellm is imported in one module only, configured there, and never by the answering package itself."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return done.stdout.strip()


def test_the_answering_package_and_the_extractive_path_do_not_import_litellm() -> None:
    code = (
        "import sys, bot.answering, bot.answering.extractive, bot.answering.markers, bot.slack.formatting, "
        "bot.runtime, bot.cli; print('litellm' in sys.modules)"
    )
    assert run(code) == "False"


def test_importing_the_llm_answerer_configures_litellm_before_it_loads() -> None:
    # Without LITELLM_LOCAL_MODEL_COST_MAP set in time, importing litellm looks up
    # raw.githubusercontent.com to fetch its model map.
    code = (
        "import socket\n"
        "looked_up = []\n"
        "def blocked(host, *args, **kwargs):\n"
        "    looked_up.append(host)\n"
        "    raise OSError('no network in this test')\n"
        "socket.getaddrinfo = blocked\n"
        "import bot.answering.llm, litellm\n"
        "print(looked_up, litellm.suppress_debug_info)\n"
    )
    assert run(code) == "[] True"


def test_only_the_client_module_imports_litellm() -> None:
    importers = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name == "litellm" or name.startswith("litellm.") for name in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert importers == ["bot/answering/litellm_client.py"]
