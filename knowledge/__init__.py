"""lorebot's knowledge layer: sources, chunking, embedding, the search index, retrieval, sync."""
