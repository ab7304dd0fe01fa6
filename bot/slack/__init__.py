"""The Slack side of lorebot: a Bolt `AsyncApp` in socket mode, one small module per job.

`bot.slack.bot.build_slack_bot` wires the pieces; `runner.SocketModeRunner` keeps the connection up.
"""
