"""Placeholder: being written."""
def chunk_markdown(document):  # noqa
    raise NotImplementedError


def chunk_rst(document):  # noqa
    raise NotImplementedError
