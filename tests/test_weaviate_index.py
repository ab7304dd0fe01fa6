"""Weaviate specifics: a separate gRPC address, from the settings to a real server."""

from __future__ import annotations

import pytest


def test_grpc_address_from_its_own_url_or_the_http_host():
    from knowledge.index.weaviate import grpc_endpoint

    assert grpc_endpoint("http://weaviate:8080", None) == ("weaviate", 50051, False)
    assert grpc_endpoint("https://weaviate.example.com", None) == ("weaviate.example.com", 50051, True)
    assert grpc_endpoint("http://weaviate:8080", "https://grpc.example.com:443") == ("grpc.example.com", 443, True)
    assert grpc_endpoint("http://weaviate:8080", "https://grpc.example.com") == ("grpc.example.com", 443, True)
    assert grpc_endpoint("https://weaviate.example.com", "http://10.0.0.5:50052") == ("10.0.0.5", 50052, False)
    with pytest.raises(ValueError, match="must look like"):
        grpc_endpoint("http://weaviate:8080", "grpc.example.com:443")


async def test_settings_carry_the_grpc_url_to_the_index(weaviate_server, monkeypatch):
    from bot.settings import Settings
    from bot.wiring import open_index

    if not weaviate_server.own:
        pytest.skip("writes the default collection: only on a server started for the tests")
    monkeypatch.setenv("WEAVIATE_URL", weaviate_server.url)
    monkeypatch.setenv("WEAVIATE_GRPC_URL", weaviate_server.grpc_url)  # not at the HTTP host's port 50051
    settings = Settings()
    assert settings.weaviate_grpc_url == weaviate_server.grpc_url
    index = open_index(settings)
    try:
        assert (await index.stats()).chunks == 0  # counted by an aggregate query, over gRPC
    finally:
        await index.clear()
        await index.close()
