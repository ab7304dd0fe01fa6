"""Local fake servers that the real client libraries talk to in tests."""
