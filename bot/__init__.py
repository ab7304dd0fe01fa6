"""lorebot's application layer: settings, database, answering, the Slack bot and the CLI."""
