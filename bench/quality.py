"""Retrieval quality on the benchmark corpora, per corpus and overall.

    python bench/quality.py [--split dev|test] [--corpus NAME ...] [--variants bm25 vectors hybrid final]
                            [--misses] [--as-bot]

Each corpus in bench/corpora/ is built as a git repository (build.py), synced into
bench/.work/data/<name> through the real runtime (incrementally: later runs reuse the
index), and asked its questions of one split. Variants: `bm25` (keywords alone),
`vectors` (vectors alone), `hybrid` (both fused, no ranking stage) and `final` (what
lorebot answers with: hybrid candidates, then the ranking stage and abstention).

Tune on `dev`; report `test`. A corpus without the chosen split is skipped with a note
(`structlog` and `piscina` have no dev split: they are never tuned on, only checked on test;
`cobra`, `pino` and `dateutil` have no test split: they only widen what is tuned on). `--misses`
lists each answerable question whose expected file is not in the top 5, with what came
instead. Questions are embedded as `lorebot eval` and `ask` do; `--as-bot` embeds them as
the Slack bot does, through the trace it makes at start (knowledge/embedding.py).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from corpora.build import WORK, Corpus, build, corpora

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from knowledge.evaluation import EvalQuestion, EvalResult, load_questions, metrics
from knowledge.retriever import Retriever

VARIANTS = ("bm25", "vectors", "hybrid", "final")
CODE = "code_recall@5"  # only where some answerable questions are about code
K = 10


@dataclass(frozen=True)
class Run:
    corpus: str
    variant: str
    results: list[EvalResult]


def settings_for(corpus: Corpus) -> Settings:
    return Settings(data_dir=WORK.parent / "data" / corpus.name, repos=[str(build(corpus))])


async def evaluate(retriever: Retriever, variant: str, questions: Sequence[EvalQuestion]) -> list[EvalResult]:
    results = []
    for question in questions:
        if variant == "final":
            found = await retriever.retrieve(question.question, K)
            results.append(EvalResult(question, found.hits, found.abstain))
        else:
            alpha = {"bm25": 0.0, "vectors": 1.0, "hybrid": retriever.alpha}[variant]
            hits = await retriever.candidates(question.question, K, alpha=alpha)
            results.append(EvalResult(question, hits, False))
    return results


async def synced(runtime: Runtime, name: str) -> str:
    """Sync the runtime's one source now and say what its index holds; exit if the sync failed."""
    (summary,) = await (await runtime.sync_service()).sync()
    if summary.error:
        raise SystemExit(f"{name}: sync failed: {summary.error}")
    stats = await runtime.index.stats()
    return f"{stats.documents} documents, {stats.chunks} chunks ({summary.chunks_embedded} embedded now)"


async def run_corpus(corpus: Corpus, split: str, variants: Sequence[str], as_bot: bool) -> list[Run]:
    questions = load_questions(corpus.questions(split))
    async with open_runtime(settings_for(corpus)) as runtime:
        print(f"{corpus.name}: {await synced(runtime, corpus.name)}; {len(questions)} {split} questions")
        if as_bot:
            await (await runtime.embedder()).prepare_for_questions()
        retriever = await runtime.retriever()
        return [Run(corpus.name, variant, await evaluate(retriever, variant, questions)) for variant in variants]


def table(runs: Sequence[Run], abstaining: Sequence[str] = ("final",)) -> str:
    """A row per corpus and variant (and overall); the `abstaining` variants also show abstention."""
    header = (
        f"| {'corpus':<11} | {'variant':<8} | r@1   | r@5   | r@10  | MRR@10 | code r@5 "
        "| answerable abstained | unanswerable abstained |"
    )
    lines = [header, "|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|"]
    by_variant: dict[str, list[EvalResult]] = {}
    for run in runs:
        by_variant.setdefault(run.variant, []).extend(run.results)
    rows = [(run.corpus, run.variant, run.results) for run in runs]
    if len({run.corpus for run in runs}) > 1:
        rows += [("overall", variant, results) for variant, results in by_variant.items()]
    for name, variant, results in rows:
        m = metrics(results)
        abstention = ""
        if variant in abstaining:
            abstention = (
                f"{m['answerable_abstained']:.0f}/{m['answerable']:.0f}",
                f"{m['unanswerable_abstained']:.0f}/{m['unanswerable']:.0f}",
            )
        else:
            abstention = ("–", "–")
        lines.append(
            f"| {name:<11} | {variant:<8} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} "
            f"| {m['mrr@10']:.3f}  | {f'{m[CODE]:.3f}' if CODE in m else '–':>5}    "
            f"| {abstention[0]:>20} | {abstention[1]:>22} |"
        )
    return "\n".join(lines)


def misses(runs: Sequence[Run]) -> str:
    out = []
    for run in runs:
        if run.variant != "final":
            continue
        for result in run.results:
            rank = result.first_hit_rank
            if result.question.expected and (rank is None or rank > 5):
                got = ", ".join(f"{hit.chunk.path}:{hit.chunk.start_line}" for hit in result.hits[:5])
                out.append(
                    f"[{run.corpus}] {result.question.id} (rank {rank}) {result.question.question!r}\n"
                    f"    expected {list(result.question.expected)}\n    got {got}"
                )
            elif not result.question.expected and not result.abstained:
                out.append(f"[{run.corpus}] {result.question.id} unanswerable, answered: {result.question.question!r}")
            elif result.question.expected and result.abstained:
                out.append(f"[{run.corpus}] {result.question.id} answerable, abstained: {result.question.question!r}")
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--corpus", nargs="*", default=[])
    parser.add_argument("--variants", nargs="*", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--as-bot", action="store_true", help="embed questions as the Slack bot does")
    args = parser.parse_args()
    if unknown := set(args.corpus) - {c.name for c in corpora()}:
        raise SystemExit(f"unknown corpus: {', '.join(sorted(unknown))}")
    chosen = [c for c in corpora() if not args.corpus or c.name in args.corpus]
    for corpus in chosen:
        if not corpus.has_split(args.split):
            print(f"{corpus.name}: no {args.split} split, skipped")
    chosen = [c for c in chosen if c.has_split(args.split)]
    if not chosen:
        raise SystemExit(f"no chosen corpus has a {args.split} split")
    runs = [run for corpus in chosen for run in await run_corpus(corpus, args.split, args.variants, args.as_bot)]
    print(f"\n{args.split} split, k={K}\n")
    print(table(runs))
    if args.misses:
        print("\n" + misses(runs))


if __name__ == "__main__":
    asyncio.run(main())
