"""Planted secrets for the redaction tests, generated here rather than committed.

`build_corpus()` makes, from a seeded generator, secrets that look real to the detector
(`AKIA` + 16 random upper-case characters, a `ghp_` token of the right length, a JWT that
decodes, a PEM block) but are random noise, and plants them in a small repository (code,
YAML, JSON, TOML, .ini, docker-compose, an `.env.example` with one real value among
placeholders, Markdown) and a Confluence page. Each `Planted` says where it is and which
marker must replace it; `pieces` gives what must never appear anywhere (the value, and
each long alphanumeric run of it in lower case, as a keyword index would store it).

No generated value holds an "x": "xxx" marks a placeholder, and a planted secret must
never be mistaken for one.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from dataclasses import dataclass, field

UPPER = string.ascii_uppercase.replace("X", "") + string.digits
LOWER = string.ascii_lowercase.replace("x", "") + string.digits
ALNUM = UPPER + LOWER
HEX = "0123456789abcdef"
# Assembled so this module is not itself a file that looks like it holds a key.
_PEM_BEGIN, _PEM_END = "-----BEGIN RSA " + "PRIVATE KEY-----", "-----END RSA " + "PRIVATE KEY-----"

# Values of `.env.example` that stand in for secrets: indexed as they are.
PLACEHOLDER_LINES = (
    "DB_PASSWORD=changeme",
    "API_TOKEN=<your-token>",
    "SECRET_KEY=xxx",
    "REDIS_URL=${REDIS_URL}",
    "STRIPE_SECRET_KEY=",
    "MAPS_API_KEY=example",
    "WEBHOOK_SECRET=dummy",
)


@dataclass(frozen=True)
class Planted:
    kind: str  # the words of its marker: "[redacted: <kind>]"
    value: str
    where: str  # a repository path, or CONFLUENCE
    random_parts: tuple[str, ...] = ()  # the generated parts, when the value also holds fixed words

    @property
    def pieces(self) -> set[str]:
        """The value and each alphanumeric run of 8 or more of its random parts, in lower case."""
        runs = {
            run.lower() for part in self.random_parts or (self.value,) for run in re.findall(r"[A-Za-z0-9]{8,}", part)
        }
        return {self.value, *runs}


CONFLUENCE = "confluence"


@dataclass
class SecretCorpus:
    planted: list[Planted] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    page_title: str = "Reporting Service Runbook"
    page_body: str = ""

    def in_file(self, where: str) -> list[Planted]:
        return [p for p in self.planted if p.where == where]

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.planted}


def build_corpus(seed: int = 9) -> SecretCorpus:
    rng = random.Random(seed)

    def chars(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    corpus = SecretCorpus()

    def plant(kind: str, value: str, where: str, *random_parts: str) -> str:
        corpus.planted.append(Planted(kind, value, where, random_parts))
        return value

    settings = "app/settings.py"
    corpus.files[settings] = f'''"""Billing service settings."""

AWS_ACCESS_KEY_ID = "{plant("AWS access key id", "AKIA" + chars(UPPER, 16), settings)}"
AWS_SECRET_ACCESS_KEY = "{plant("AWS secret key", chars(ALNUM + "/+", 40), settings)}"
SECRET_KEY = "{plant("secret", chars(LOWER + "!@#%^&*-_+", 50), settings)}"


def billing_retry_schedule() -> list[int]:
    """Failed invoices are retried after one, three and seven days."""
    return [1, 3, 7]
'''

    deploy = "config/deploy.yaml"
    corpus.files[deploy] = f"""# Where the release pipeline publishes the container image.
registry: ghcr.io/acme/billing
github_token: {plant("GitHub token", "ghp_" + chars(ALNUM, 36), deploy)}
rollout: canary first, then every region one by one
"""

    slack = "config/slack.json"
    bot_token = "xoxb-" + chars(string.digits, 12) + "-" + chars(string.digits, 13) + "-" + chars(LOWER, 24)
    hook_parts = (chars(UPPER, 10), chars(UPPER, 10), chars(ALNUM, 24))
    webhook = "https://hooks.slack.com/services/T{}/B{}/{}".format(*hook_parts)
    corpus.files[slack] = json.dumps(
        {
            "channel": "#billing-alerts",
            "bot_token": plant("Slack token", bot_token, slack),
            "alerts_webhook": plant("Slack webhook", webhook, slack, *hook_parts),
            "notify_on": ["invoice.failed", "payout.delayed"],
        },
        indent=2,
    )

    payments = "config/payments.toml"
    corpus.files[payments] = f"""# Card payments go through Stripe; refunds are reconciled nightly.
[stripe]
api_key = "{plant("Stripe key", "sk_live_" + chars(ALNUM, 24), payments)}"
currency = "eur"

[mirror]
gitlab_deploy_token = "{plant("GitLab token", "glpat-" + chars(ALNUM + "_-", 20), payments)}"
"""

    database = "config/database.ini"
    corpus.files[database] = f"""; The ledger database.
[ledger]
host = db.internal
password = {plant("password", "Plum" + chars(ALNUM, 10), database)}
url = postgresql://billing:{plant("password in URL", "pw" + chars(ALNUM, 12), database)}@db.internal:5432/ledger
pool_size = 20
"""

    compose = "docker-compose.yml"
    corpus.files[compose] = f"""services:
  ledger-db:
    image: postgres:16
    environment:
      POSTGRES_USER: billing
      POSTGRES_PASSWORD: {plant("password", "pg" + chars(ALNUM, 14), compose)}
  worker:
    image: acme/billing-worker
    environment:
      - REDIS_URL=redis://:{plant("password in URL", "rd" + chars(ALNUM, 14), compose)}@cache:6379/0
"""

    env = ".env.example"
    sendgrid = "SG." + chars(ALNUM, 22) + "." + chars(ALNUM + "_-", 43)
    corpus.files[env] = "\n".join(
        [
            "# Copy to .env and fill in the values for your machine.",
            *PLACEHOLDER_LINES,
            f"SENDGRID_API_KEY={plant('SendGrid key', sendgrid, env)}",
            "",
        ]
    )

    docs = "docs/operations.md"
    jwt = ".".join(
        [
            _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
            _b64url(json.dumps({"sub": "billing-worker", "iat": rng.randrange(10**9, 2 * 10**9)}).encode()),
            chars(ALNUM + "_-", 43),
        ]
    )
    key_lines = [chars(ALNUM + "+/", 64) for _ in range(6)]
    pem = "\n".join([_PEM_BEGIN, *key_lines, _PEM_END])
    corpus.files[docs] = f"""# Operating the billing service

## Calling the internal API

Every call carries the worker's token:

    curl -H "Authorization: Bearer {plant("JWT", jwt, docs)}" https://billing.internal/v1/invoices

The invoice map uses the key {plant("Google API key", "AIza" + chars(ALNUM + "_-", 35), docs)} for geocoding.

## Publishing the client package

The CI job writes this `.npmrc` before `npm publish`:

    //registry.npmjs.org/:_authToken={plant("npm token", "npm_" + chars(ALNUM, 36), docs)}

and reports errors with `export SENTRY_AUTH_TOKEN={plant("token", chars(HEX, 64), docs)}`.

## Signing webhooks

Outgoing webhooks are signed with this key (rotate it every quarter):

```
{plant("private key", pem, docs, *key_lines)}
```

Receivers verify the signature header before trusting the payload.
"""

    mysql_password = plant("password in URL", "my" + chars(ALNUM, 14), CONFLUENCE)
    app_token = f"xapp-1-A{chars(UPPER, 10)}-{chars(string.digits, 13)}-{chars(HEX, 64)}"
    fine_grained = "github_pat_" + chars(ALNUM, 22) + "_" + chars(ALNUM, 59)
    corpus.page_body = f"""<p>How the nightly reporting job exports revenue figures to the analytics warehouse.</p>
<h1>Credentials</h1>
<p>The exporter posts to Slack with <code>{plant("Slack token", app_token, CONFLUENCE)}</code> and pulls the
report templates with <code>{plant("GitHub token", fine_grained, CONFLUENCE)}</code>.</p>
<p>Test charges use <code>{plant("Stripe key", "sk_test_" + chars(ALNUM, 24), CONFLUENCE)}</code>;
SMS alerts go through Twilio with <code>{plant("Twilio key", "SK" + chars(HEX, 32), CONFLUENCE)}</code>.</p>
<p>api_token: {plant("token", chars(ALNUM, 40), CONFLUENCE)}</p>
<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[
REPORTS_DB=mysql://reporting:{mysql_password}@analytics.internal/reports
]]></ac:plain-text-body></ac:structured-macro>
<h1>Schedule</h1>
<p>The export starts at two in the morning and finishes before the finance team logs in.</p>"""
    return corpus


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
