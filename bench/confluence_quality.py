"""The docs side served from Confluence: each corpus's docs as pages, asked what they answer.

    python bench/confluence_quality.py [--split dev|test] [--corpus NAME ...]

Many teams keep their docs in Confluence, not beside the code. Each corpus's Markdown and
reStructuredText docs become storage-format pages (headings, paragraphs, lists, tables,
code blocks as code macros; the first heading is the title), served by the local
Confluence fake (tests/fakes) in one space and synced through the real client and
pipeline into bench/.work/data-confluence/<name>. The questions whose expected files
include one of those docs are asked twice, with only the docs expected: of the pages,
and of the repository as `bench/quality.py` indexes it (where code and tests compete).
The unanswerable questions count toward abstention in both. Nothing here is tuned. A
corpus without such docs (commons-text: its docs are Javadoc) is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path, PurePosixPath

import docutils.core
from bs4 import BeautifulSoup, CData
from corpora.build import WORK, Corpus, build, corpora
from docutils import nodes
from docutils.parsers.rst import Directive, directives, roles
from markdown_it import MarkdownIt
from quality import K, Run, settings_for, synced, table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.runtime import open_runtime
from bot.settings import Settings
from knowledge.evaluation import EvalQuestion, EvalResult, load_questions
from knowledge.retriever import Retriever
from knowledge.roles import file_role
from tests.fakes.confluence_server import FakeConfluence

DATA = WORK.parent / "data-confluence"
EDITED = datetime(2026, 11, 1, tzinfo=UTC)  # one fixed date, so a later run reuses the index
_MARKDOWN = (".md", ".markdown")
_RST = (".rst",)
_LANGUAGE = re.compile(r"^(?:language-)?([\w+-]+)$")
_NOT_LANGUAGES = frozenset({"code", "literal-block", "doctest-block", "highlight", "default"})


def docs_files(repo: Path) -> list[str]:
    """The repository's docs files that can be pages: Markdown and reStructuredText."""
    listed = subprocess.run(["git", "ls-files"], cwd=repo, check=True, capture_output=True, text=True).stdout
    return [p for p in listed.splitlines() if p.endswith(_MARKDOWN + _RST) and file_role(p) == "docs"]


class _Literal(Directive):
    """A Sphinx directive whose content is code or a session (`code-block`, `doctest`, …)."""

    has_content, optional_arguments, final_argument_whitespace = True, 1, True
    option_spec = None  # any options, ignored

    def run(self) -> list[nodes.Node]:
        text = "\n".join(self.content)
        return [nodes.literal_block(text, text, classes=[self.arguments[0]] if self.arguments else [])]


class _Body(Directive):
    """A Sphinx directive whose content is prose (`versionadded`, `seealso`, `autoclass`, …)."""

    has_content, optional_arguments, final_argument_whitespace = True, 1, True
    option_spec = None

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


def _literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    shown = re.sub(r"^~|\s*<[^>]*>$", "", text)  # `~pkg.Name` shows "Name"; `text <target>` shows "text"
    return [nodes.literal(rawtext, shown.rsplit(".", 1)[-1] if text.startswith("~") else shown)], []


_CODE_DIRECTIVES = ("code-block", "sourcecode", "doctest", "testcode", "testsetup", "testoutput", "literalinclude")
_PROSE_DIRECTIVES = (
    "versionadded versionchanged deprecated seealso autoclass autofunction automodule automethod autodata "
    "autoexception currentmodule module function class method attribute data exception toctree highlight only"
).split()
_REFERENCE_ROLES = (
    "class func meth attr mod exc data obj ref doc term const envvar option program file kbd command "
    "py:class py:func py:meth py:attr py:mod py:exc py:data"
).split()


@cache
def _sphinx_markup() -> None:
    """What docutils does not know of Sphinx: its code directives, its prose directives and its
    cross-reference roles, so their text reaches the page instead of vanishing (registered once)."""
    for name in _CODE_DIRECTIVES:
        directives.register_directive(name, _Literal)
    for name in _PROSE_DIRECTIVES:
        directives.register_directive(name, _Body)
    for name in _REFERENCE_ROLES:
        roles.register_local_role(name, _literal_role)


def _html(path: Path) -> tuple[str, str]:
    """The file's title, if its markup sets one apart, and its body as HTML."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix in _MARKDOWN:
        return "", MarkdownIt("commonmark").enable("table").render(text)
    _sphinx_markup()
    overrides = {"report_level": 5, "halt_level": 5, "file_insertion_enabled": False, "raw_enabled": False}
    parts = docutils.core.publish_parts(text, writer_name="html5", settings_overrides=overrides)
    return BeautifulSoup(parts["title"], "html.parser").get_text(" ", strip=True), parts["body"]


def _language(pre) -> str:
    classes = [*pre.get("class", []), *(pre.code.get("class", []) if pre.code else [])]
    found = (m.group(1) for c in classes if (m := _LANGUAGE.match(c)) and m.group(1) not in _NOT_LANGUAGES)
    return next(found, "")


def storage_page(path: Path) -> tuple[str, str]:
    """A docs file as a Confluence page: its title (the first heading) and storage-format body."""
    title, html = _html(path)
    soup = BeautifulSoup(html, "html.parser")
    if not title and (heading := soup.find("h1")):
        title = heading.get_text(" ", strip=True)
        heading.decompose()
    for pre in soup.find_all("pre"):
        macro = soup.new_tag("ac:structured-macro", attrs={"ac:name": "code"})
        if language := _language(pre):
            parameter = soup.new_tag("ac:parameter", attrs={"ac:name": "language"})
            parameter.string = language
            macro.append(parameter)
        body = soup.new_tag("ac:plain-text-body")
        body.append(CData(pre.get_text().replace("]]>", "]]]]><![CDATA[>")))
        macro.append(body)
        pre.replace_with(macro)
    return title or path.stem, str(soup)


def serve_docs(fake: FakeConfluence, space: str, repo: Path) -> dict[str, str]:
    """Every docs file as a page of `space`, under a page per folder as a page tree would
    hold them; returns the page path lorebot indexes → the file's path."""
    fake.add_space(space, space.title())
    titles: set[str] = set()
    folders: dict[PurePosixPath, tuple[str, str]] = {}  # folder → (page id, page path)

    def unique(title: str, folder: PurePosixPath) -> str:  # Confluence titles are unique within a space
        for candidate in (title, f"{title} ({folder.name})", *(f"{title} ({n})" for n in range(2, 1000))):
            if candidate not in titles:
                titles.add(candidate)
                return candidate
        raise ValueError(f"no unique title for {title}")

    def folder_page(folder: PurePosixPath) -> tuple[str | None, str]:
        if folder == PurePosixPath("."):
            return None, space
        if folder not in folders:
            parent, parent_path = folder_page(folder.parent)
            title = unique(folder.name, folder.parent)
            page = fake.add_page(space, title, "", parent=parent, when=EDITED)
            folders[folder] = (page.id, f"{parent_path}/{title}")
        return folders[folder]

    pages: dict[str, str] = {}
    for path in docs_files(repo):
        parent, parent_path = folder_page(PurePosixPath(path).parent)
        heading, body = storage_page(repo / path)
        title = unique(heading, PurePosixPath(path).parent)
        fake.add_page(space, title, body, parent=parent, when=EDITED)
        pages[f"{parent_path}/{title}"] = path
    return pages


def docs_questions(questions: Sequence[EvalQuestion], docs: set[str]) -> list[EvalQuestion]:
    """The questions a docs file answers, expecting only those files; and the unanswerable ones."""
    kept = []
    for question in questions:
        expected = [path for path in question.expected if path in docs]
        if expected or not question.expected:
            kept.append(question.model_copy(update={"expected": expected}))
    return kept


async def ask(retriever: Retriever, questions: Sequence[EvalQuestion], files: dict[str, str]) -> list[EvalResult]:
    """Each question's final hits, a page's hits named by the file it was made from."""
    results = []
    for question in questions:
        found = await retriever.retrieve(question.question, K)
        named = (dataclasses.replace(hit.chunk, path=files.get(hit.chunk.path, hit.chunk.path)) for hit in found.hits)
        hits = [dataclasses.replace(hit, chunk=chunk) for hit, chunk in zip(found.hits, named, strict=True)]
        results.append(EvalResult(question, hits, found.abstain))
    return results


async def run_corpus(corpus: Corpus, split: str) -> list[Run]:
    repo = build(corpus)
    space = re.sub(r"[^A-Z0-9]", "", corpus.name.upper())
    with FakeConfluence() as fake:
        pages = serve_docs(fake, space, repo)
        if not pages:
            print(f"{corpus.name}: no Markdown or reStructuredText docs to serve as pages, skipped")
            return []
        questions = docs_questions(load_questions(corpus.questions(split)), set(pages.values()))
        settings = Settings(
            data_dir=DATA / corpus.name,
            confluence_url=fake.url,
            confluence_spaces=[space],
            confluence_username=fake.username,
            confluence_api_token=fake.api_token,
            repos=[],
            sources=[],
        )
        async with open_runtime(settings) as runtime:
            held = await synced(runtime, f"{corpus.name} as Confluence pages")
            print(f"{corpus.name}: {len(pages)} docs files as pages: {held}; {len(questions)} {split} questions")
            confluence = await ask(await runtime.retriever(), questions, pages)
    async with open_runtime(settings_for(corpus)) as runtime:
        await synced(runtime, corpus.name)
        repository = await ask(await runtime.retriever(), questions, {})
    return [Run(corpus.name, "repo", repository), Run(corpus.name, "pages", confluence)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--corpus", nargs="*", default=[])
    args = parser.parse_args()
    chosen = [c for c in corpora() if (not args.corpus or c.name in args.corpus) and c.has_split(args.split)]
    runs: list[Run] = []
    for corpus in chosen:
        runs += await run_corpus(corpus, args.split)
    print(f"\n{args.split} split, docs questions (only docs files expected), k={K}\n")
    print(table(runs, abstaining=("repo", "pages")))


if __name__ == "__main__":
    asyncio.run(main())
