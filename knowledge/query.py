"""How people type in Slack → what the index is searched with.

Chat shorthand carries no meaning for search ("rn", "pls", "tbh") and abbreviations hide
the words the code and docs use ("cfg", "env var", "UA"). `expand_query` drops the first
and adds the spelled-out words of the second, keeping everything the person typed, so
both the keyword side and the query embedding see the words a page would use.
"""

from __future__ import annotations

import re

# Chat words that say nothing about the subject.
_FILLER = frozenset(
    """
rn pls plz ppl tbh iirc imo imho afaik btw fyi lol thx ty idk smth sth ya yea yeah ok okay hey hi
""".split()
)

# Abbreviations engineers type, spelled out (lower case, whole words only).
_ABBREVIATIONS = {
    "w/": "with",
    "w/o": "without",
    "b/c": "because",
    "bc": "because",
    "thru": "through",
    "cfg": "config configuration",
    "conf": "config configuration",
    "config": "configuration",
    "env": "environment",
    "envvar": "environment variable",
    "envvars": "environment variables",
    "var": "variable",
    "vars": "variables",
    "arg": "argument",
    "args": "arguments",
    "param": "parameter",
    "params": "parameters",
    "opt": "option",
    "opts": "options",
    "cmd": "command",
    "cmds": "commands",
    "subcmd": "subcommand",
    "subcmds": "subcommands",
    "cli": "command line",
    "fn": "function",
    "func": "function",
    "funcs": "functions",
    "impl": "implementation",
    "init": "initialize",
    "dir": "directory",
    "cwd": "current working directory",
    "cmdline": "command line",
    "dirs": "directories",
    "repo": "repository",
    "deps": "dependencies",
    "dep": "dependency",
    "pkg": "package",
    "msg": "message",
    "msgs": "messages",
    "err": "error",
    "errs": "errors",
    "req": "request",
    "reqs": "requests",
    "resp": "response",
    "res": "response",
    "ua": "user agent",
    "auth": "authentication authorization",
    "db": "database",
    "conn": "connection",
    "conns": "connections",
    "perf": "performance",
    "docs": "documentation",
    "doc": "documentation",
    "tmpl": "template",
    "tpl": "template",
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "dict": "dictionary",
    "obj": "object",
    "attr": "attribute",
    "attrs": "attributes",
    "val": "value",
    "vals": "values",
    "num": "number",
    "max": "maximum",
    "min": "minimum",
    "ctx": "context",
    "async": "asynchronous",
    "sync": "synchronous",
    "ws": "websocket",
    "tls": "ssl certificate",
    "ssl": "tls certificate",
    "cert": "certificate",
    "certs": "certificates",
    "ci": "continuous integration",
    "pr": "pull request",
    "e2e": "end to end",
    "perms": "permissions",
    "k8s": "kubernetes",
    "tz": "timezone",
    "ts": "timestamp",
    "dt": "datetime",
    "regex": "regular expression",
    "hdr": "header",
    "hdrs": "headers",
    "redir": "redirect",
    "redirs": "redirects",
    "sess": "session",
    "qs": "query string",
    "dl": "download",
    "pw": "password",
    "passwd": "password",
    "secs": "seconds",
    "ver": "version",
    "lib": "library",
    "libs": "libraries",
    "mgr": "manager",
}

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:/[A-Za-z]*)?")


def is_abbreviation(word: str) -> bool:
    """Whether a (lower-case) word is shorthand that `expand_query` spells out."""
    return word in _ABBREVIATIONS


def is_filler(word: str) -> bool:
    """Whether a (lower-case) word is chat filler that says nothing about the subject."""
    return word in _FILLER


def expand_query(text: str) -> str:
    """The question without chat filler, followed by the spelled-out form of its abbreviations."""
    kept: list[str] = []
    added: dict[str, None] = {}
    for token in re.split(r"(\s+)", text):
        word = token.strip().strip(".,;:!?()\"'").lower()
        if is_filler(word):
            continue
        kept.append(token)
        expansion = _ABBREVIATIONS.get(word)
        if expansion:
            added.update(dict.fromkeys(expansion.split()))
    cleaned = re.sub(r"\s{2,}", " ", "".join(kept)).strip() or text
    return f"{cleaned} ({' '.join(added)})" if added else cleaned
