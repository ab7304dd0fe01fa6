"""What part a file plays in its repository: implementation, docs, tests, changelog, project meta, generated.

Questions are mostly about what the code does; tests, changelogs and contributor docs
mention the same words and would otherwise crowd the top ranks. The ranking stage weighs
each role (`ROLE_WEIGHTS`), unless the question asks about that role itself ("is there a
test for …", "when did … change").
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

Role = Literal["code", "docs", "test", "changelog", "meta", "generated"]

_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "testdata", "fixtures", "e2e"})
_TEST_FILE = re.compile(
    r"^(test_.*\.py|.*_test\.(py|go)|conftest\.py|.*\.(test|spec)\.[cm]?[jt]sx?|.*Tests?\.(java|kt|cs))$"
)
_CHANGELOG = re.compile(r"^(change[s_-]?log|changes|history|news|release[s_-]?notes?)(\.\w+)?$", re.IGNORECASE)
_META = re.compile(
    r"^(contributing|code_of_conduct|security|license|licence|authors|maintainers|releasing|codeowners|"
    r"pkg-info|manifest\.in|makefile|tox\.ini|setup\.cfg|\.flake8|\.gitignore|\.golangci\.ya?ml)(\.\w+)?$",
    re.IGNORECASE,
)
# Written by a tool, not a person: generated bindings, lock files, minified bundles, API dumps.
# Go marks its generated files by name too (zz_generated.*, *_generated.go, *.pb.go).
_GENERATED = re.compile(
    r"^(zz_generated\..*|.*[_.-]generated\.\w+|generated_.*|.*\.pb(\.gw)?\.go|.*_pb2(_grpc)?\.pyi?|.*\.min\.(js|css)"
    r"|godoc[_-].*\.txt|.*\.d\.[cm]?ts|package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|go\.sum|cargo\.lock)$",
    re.IGNORECASE,
)
_GENERATED_DIRS = frozenset({"generated", "__generated__"})
_META_DIRS = frozenset({".github", ".gitlab", ".circleci", "requirements"})
_DOC_DIRS = frozenset({"docs", "doc", "documentation", "examples", "example", "guides", "manual"})
_DOC_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc"})


def file_role(path: str, kind: str = "code") -> Role:
    """The role of a repository path (a Confluence page is docs)."""
    if kind == "page":
        return "docs"
    parts = PurePosixPath(path.lower()).parts
    if not parts:
        return "code"
    name, folders = PurePosixPath(path).name, parts[:-1]
    if _TEST_FILE.match(name) or _TEST_DIRS.intersection(folders):
        return "test"
    if _CHANGELOG.match(name):
        return "changelog"
    if _GENERATED.match(name) or _GENERATED_DIRS.intersection(folders):
        return "generated"
    if _META.match(name) or _META_DIRS.intersection(folders):
        return "meta"
    if PurePosixPath(name).suffix.lower() in _DOC_SUFFIXES or _DOC_DIRS.intersection(folders):
        return "docs"
    return "code"


_ASKS_ABOUT: dict[Role, re.Pattern[str]] = {
    "test": re.compile(r"\b(tests?|testing|tested|unit ?tests?|specs?|fixtures?|pytest|coverage)\b", re.IGNORECASE),
    "changelog": re.compile(
        # "which version", "since v2"; a bare "version" is as often the --version flag
        r"\b(change ?log|changes|changed|when did|release[sd]?|(which|what|since|in|from|to) (v|version ?)\d*"
        r"|since|deprecat\w*|added in|removed in|history)\b",
        re.IGNORECASE,
    ),
    "generated": re.compile(r"\b(generated|codegen|go generate|lock ?file|godoc)\b", re.IGNORECASE),
    "meta": re.compile(
        r"\b(contribut\w*|licen[cs]e|ci|pipeline|lint\w*|build|makefile|release process|releasing|maintainers?"
        r"|vuln\w*|security (issue|hole|bug|report|policy)|disclos\w*|cve|prs?|pull requests?"
        r"|(cut|tag|make|publish) (a|the) release)\b",
        re.IGNORECASE,
    ),
}


def roles_asked_about(question: str) -> frozenset[Role]:
    """The roles a question names itself, whose files then keep their full weight."""
    return frozenset(role for role, pattern in _ASKS_ABOUT.items() if pattern.search(question))


# "where is the timeout enforced", "which function decides", "is it hardcoded", "bug or
# intended?": the asker wants the code. "how do i …", "any example": the asker wants the docs.
# Either is only a lean: a question can want both, and then neither pattern decides.
_WANTS_CODE = re.compile(
    r"\bwhere(?:'s| is| are| does| do)\b.{0,60}\b(?:handled|defined|computed|calculated|set|checked|check|enforced"
    r"|raised|thrown|printed|implemented|comes? from|coming from|decided?|decides|parsed|resolved|generated|built"
    r"|happens?|stored|read|cached|done|lives?)\b"
    r"|\bwhere(?:'s| is)\s+(?:that|this|the)\s+(?:check|logic|code|constant|default)\b"
    r"|\bwhich (?:file|function|module|method|struct|class)\b|\bhard-?coded\b|\bunder the hood\b"
    r"|\bimplementation\b|\bimplemented\b|\bsource code\b|\bcode path\b|\bbug\?|\bis that a bug\b|\bin the code\b"
    r"|\bintended\b|\bon purpose\b|\bby design\b|\bbug or\b|\bis there a reason\b",
    re.IGNORECASE,
)
_WANTS_DOCS = re.compile(
    r"\b(?:how (?:do|can|should) (?:i|we|you)|how to|examples?|docs?|documentation|guide|tutorial|recommended"
    r"|best practices?|setup|set up|walkthrough|anyone have)\b",
    re.IGNORECASE,
)


# "is there a test for …", "do we have a test that …": the asker wants a test, not what it tests.
# "is there a test runner / client / mode" asks for a testing feature instead, in the code and docs.
_WANTS_TEST = re.compile(
    r"\b(?:is there|are there|do we have|any|which|what)\s+(?:a |an |some )?(?:unit |integration |regression )?"
    r"tests?\b(?!\s+(?:runners?|helpers?|clients?|modes?|utilit\w*|harness\w*|frameworks?|tools?|commands?"
    r"|servers?|apis?|setup|env\w*)\b)",
    re.IGNORECASE,
)


def role_wanted(question: str) -> Role | None:
    """The side the question's form leans to: a test, or else the code or the docs; None for
    neither or both."""
    if _WANTS_TEST.search(question):
        return "test"
    code, docs = bool(_WANTS_CODE.search(question)), bool(_WANTS_DOCS.search(question))
    return "code" if code and not docs else "docs" if docs and not code else None
