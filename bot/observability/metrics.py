"""Every Prometheus metric of lorebot, in one registry per `Metrics`.

The seams (responder, feedback recorder, scheduler, sync locks) call one method each, so
metric and label names live only here. `lorebot run` serves the registry on `/metrics`;
a test makes its own `Metrics()` and reads samples from `metrics.registry`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector

from bot.conversations import reaction_polarity
from knowledge.sync import SyncSummary

# Seconds, from a cached answer (~0.1 s) to a slow LLM with a fallback model (minutes).
ANSWER_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0)
RETRIEVAL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SYNC_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

SIGNS = {1: "positive", -1: "negative", 0: "neutral"}


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.questions = Counter(
            "lorebot_questions",
            "Questions taken up, by surface (mention, dm, followup, command).",
            ["surface"],
            registry=r,
        )
        self.answers = Counter("lorebot_answers", "Answers posted (abstentions included).", registry=r)
        self.abstentions = Counter(
            "lorebot_abstentions",
            "Answers that said the sources do not answer the question.",
            registry=r,
        )
        self.errors = Counter(
            "lorebot_errors",
            "Questions not answered: `failure` (an apology with a reference id) or `refusal` "
            "(a reason for the person, e.g. an empty index).",
            ["kind"],
            registry=r,
        )
        self.feedback = Counter(
            "lorebot_feedback",
            "Reactions on answers, by sign and whether added or removed.",
            ["sign", "action"],
            registry=r,
        )
        self.answer_seconds = Histogram(
            "lorebot_answer_latency_seconds",
            "From the Slack event to the posted answer.",
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.retrieval_seconds = Histogram(
            "lorebot_retrieval_latency_seconds",
            "Retrieval of one question: embedding, index query and ranking.",
            buckets=RETRIEVAL_BUCKETS,
            registry=r,
        )
        self.sync_seconds = Histogram(
            "lorebot_sync_duration_seconds",
            "One scheduled sync of a source.",
            ["source"],
            buckets=SYNC_BUCKETS,
            registry=r,
        )
        self.sync_documents = Counter(
            "lorebot_sync_documents",
            "Documents changed by syncs, by source and change.",
            ["source", "change"],
            registry=r,
        )
        self.sync_errors = Counter(
            "lorebot_sync_errors", "Scheduled syncs that failed, by source.", ["source"], registry=r
        )
        self.lock_waits = Counter(
            "lorebot_sync_lock_waits",
            "Times a source's sync lock was held by another replica.",
            ["source"],
            registry=r,
        )

    def question(self, surface: str) -> None:
        self.questions.labels(surface=surface).inc()

    def answered(self, abstained: bool, seconds: float) -> None:
        self.answers.inc()
        if abstained:
            self.abstentions.inc()
        self.answer_seconds.observe(seconds)

    def failed(self) -> None:
        self.errors.labels(kind="failure").inc()

    def refused(self) -> None:
        self.errors.labels(kind="refusal").inc()

    def reacted(self, reaction: str, added: bool) -> None:
        self.feedback.labels(sign=SIGNS[reaction_polarity(reaction)], action="added" if added else "removed").inc()

    def retrieved(self, seconds: float) -> None:
        self.retrieval_seconds.observe(seconds)

    def synced(self, summary: SyncSummary) -> None:
        self.sync_seconds.labels(source=summary.name).observe(summary.seconds)
        for change in ("added", "updated", "deleted"):
            self.sync_documents.labels(source=summary.name, change=change).inc(getattr(summary, change))
        if summary.error:
            self.sync_errors.labels(source=summary.name).inc()

    def lock_waited(self, source: str) -> None:
        """A replica wanted to sync `source` and found its lock held: call once per wait."""
        self.lock_waits.labels(source=source).inc()
