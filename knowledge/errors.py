"""The one base for failures whose message is meant for a person.

Deep code raises a `LorebotError` subclass with a message that says what is wrong and
what to change (which setting, which command). Each edge catches the base once: the CLI
prints the message and exits 1, the Slack bot posts it in the thread. Details (tracebacks,
server replies) go to the log, never into the message.
"""


class LorebotError(Exception):
    """A failure explained in one or two sentences for the person who asked or runs lorebot."""
