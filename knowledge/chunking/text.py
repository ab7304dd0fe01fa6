"""Placeholder: being written."""
def chunk_text(document):  # noqa
    raise NotImplementedError
