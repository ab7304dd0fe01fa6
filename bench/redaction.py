"""Secret redaction on real codebases: what it redacts, and what that costs.

    python bench/corpora/build.py click jinja    # once: the corpora as git repositories
    python bench/redaction.py [--corpus click --corpus jinja] [--repo PATH] [--rounds 3]

Every tracked file the git source would index (the same skip rules and decoding) goes
through `redact_document`, as in a sync. These libraries hold no real secrets, so every
redaction listed is a false positive unless it is a deliberate test fixture: each is
printed as `path:line  kind  | the line before redaction` to be judged by reading. The
cost is the best of `--rounds` passes over every file, in ms per MB of text.
`--planted N` also redacts the test corpus of planted secrets (tests/secret_corpus.py)
built from N seeds, and counts the secrets caught whole, missed, and anything extra.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chunking_speed import documents
from corpora.build import corpora

from knowledge.documents import Document
from knowledge.redaction import Finding, redact_document, redact_text


def redact_all(docs: list[Document]) -> list[tuple[Document, tuple[Finding, ...]]]:
    return [(doc, redact_document(doc)[1]) for doc in docs]


def planted(seeds: int) -> None:
    """Recall on generated secrets: each must be gone whole, with nothing else redacted."""
    from tests.secret_corpus import CONFLUENCE, build_corpus

    caught = missed = extra = 0
    for seed in range(seeds):
        corpus = build_corpus(seed)
        for where, text in [*corpus.files.items(), (CONFLUENCE, corpus.page_body)]:
            redacted = redact_text(text, "ENG/page" if where == CONFLUENCE else where)
            secrets = corpus.in_file(where)
            gone = [s for s in secrets if not any(p in redacted.text or p in redacted.text.lower() for p in s.pieces)]
            caught, missed = caught + len(gone), missed + len(secrets) - len(gone)
            extra += max(0, len(redacted.findings) - len(secrets))
    kinds = len(build_corpus(0).kinds)
    print(f"planted: {caught} caught, {missed} missed, {extra} extra redactions ({seeds} seeds, {kinds} kinds)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", help="a corpus name (repeatable); default click and jinja")
    parser.add_argument("--repo", action="append", default=[], help="also any git checkout (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--planted", type=int, default=0, metavar="N", help="also the planted corpus, N seeds")
    args = parser.parse_args()
    if args.planted:
        planted(args.planted)
    names = args.corpus or ([] if args.repo else ["click", "jinja"])
    repos: list[tuple[str, Path]] = []
    for corpus in [c for c in corpora() if c.name in names]:
        if not (corpus.repo / ".git").is_dir():
            raise SystemExit(f"build the corpus first: python bench/corpora/build.py {corpus.name}")
        repos.append((f"{corpus.name} ({corpus.package} {corpus.version})", corpus.repo))
    repos += [(str(Path(repo).resolve().name), Path(repo)) for repo in args.repo]
    total_files = total_bytes = total_found = 0
    total_seconds = 0.0
    for label, repo in repos:
        docs, _ = documents(repo)
        size = sum(len(doc.content.encode("utf-8", "surrogatepass")) for doc in docs)
        best = float("inf")
        for _ in range(args.rounds):
            started = time.perf_counter()
            results = redact_all(docs)
            best = min(best, time.perf_counter() - started)
        found = [(doc, finding) for doc, findings in results for finding in findings]
        with_secrets = sum(1 for _, findings in results if findings)
        print(
            f"{label}: {len(docs)} files scanned "
            f"({size / 1e6:.2f} MB), {len(found)} secrets redacted in {with_secrets} files; "
            f"{best * 1000:.0f} ms, {best * 1000 / (size / 1e6):.0f} ms/MB"
        )
        for doc, finding in found:
            line = doc.content.split("\n")[finding.line - 1].strip()
            print(f"  {doc.external_id}:{finding.line}  {finding.kind}  | {line[:110]}")
        total_files, total_bytes, total_found = total_files + len(docs), total_bytes + size, total_found + len(found)
        total_seconds += best
    if total_files:
        print(
            f"all: {total_files} files ({total_bytes / 1e6:.2f} MB), {total_found} redacted; "
            f"{total_seconds * 1000 / (total_bytes / 1e6):.0f} ms/MB"
        )


if __name__ == "__main__":
    main()
