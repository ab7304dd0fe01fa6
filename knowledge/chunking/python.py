"""Placeholder: being written."""
def chunk_python(document):  # noqa
    raise NotImplementedError
