"""Placeholder: being written."""
def chunk_page(document):  # noqa
    raise NotImplementedError
