"""Entra ID (token) authentication to Batch, offline.

``batch_client()`` without an account key uses ``DefaultAzureCredential``. Here its managed
identity credential gets a token from a local App-Service-style endpoint
(`ManagedIdentityEndpoint`), and the Batch emulator (over HTTPS: azure-core sends bearer tokens
only to ``https://`` URLs) accepts that token.
"""

import logging
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

import dask
import pytest
from azure.batch import models as m
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from distributed import Client

from vegdask.cluster import AzureBatchCluster, batch_client
from vegdask.testing import BATCH_RESOURCE, BatchEmulator, ManagedIdentityEndpoint

# Variables that would select another credential of DefaultAzureCredential's chain, another
# managed identity source, or a shared key.
_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_")


@pytest.fixture
def identity():
    with ManagedIdentityEndpoint() as endpoint:
        yield endpoint


def entra_env(monkeypatch, identity, emu):
    """Only the managed identity endpoint and the emulator's URL: no key, no other credential."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in identity.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_BATCH_URL", emu.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_file)  # trust the emulator's certificate
    keys = ("batch-url", "account-name", "account-key")
    return dask.config.set({f"vegdask.azure.{k}": None for k in keys})


def test_batch_client_without_key_gets_a_managed_identity_token(
    monkeypatch, identity, caplog, shared_key_client
):
    with (
        BatchEmulator(tokens=[identity.token], tls=True) as emu,
        entra_env(monkeypatch, identity, emu),
        caplog.at_level(logging.INFO, logger="azure.identity"),
    ):
        client = batch_client()
        assert list(client.list_pools()) == []
        # the chain stops at the managed identity, before any credential that could hang offline
        # (the CLI ones run subprocesses; only environment variables are read before it)
        assert "DefaultAzureCredential acquired a token from ManagedIdentityCredential" in (
            caplog.text
        )
        # one token request, for the Batch resource, with the identity header
        assert [(r.resource, r.api_version, r.secret_ok, r.status) for r in identity.requests] == [
            (BATCH_RESOURCE, "2019-08-01", True, 200)
        ]
        # the same emulator still takes shared keys; the token client sees their pool
        shared_key_client(emu).create_pool(
            m.BatchPoolCreateOptions(id="p", vm_size="Standard_A1_v2")
        )
        assert [p.id for p in client.list_pools()] == ["p"]
        assert len(identity.requests) == 1  # the token is cached


def test_a_token_batch_does_not_accept_is_refused(monkeypatch, identity):
    with (
        BatchEmulator(tokens=["another-token"], tls=True) as emu,
        entra_env(monkeypatch, identity, emu),
        pytest.raises(ClientAuthenticationError) as err,
    ):
        list(batch_client().list_pools())
    assert err.value.status_code == 401
    assert err.value.error.code == "AuthenticationFailed"
    assert "AuthenticationErrorDetail" in str(err.value)
    assert identity.requests[0].status == 200  # the token was served; Batch refused it


def test_no_bearer_token_is_accepted_by_default(identity):
    with BatchEmulator(tls=True) as emu:
        request = urllib.request.Request(
            f"{emu.url}/pools?api-version=2025-06-01",
            headers={"Authorization": f"Bearer {identity.token}"},
        )
        context = ssl.create_default_context(cafile=emu.ca_file)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, context=context)
    assert err.value.code == 401
    assert b'"AuthenticationFailed"' in err.value.read()


def test_identity_endpoint_checks_secret_and_resource(monkeypatch, identity):
    from azure.identity import ManagedIdentityCredential

    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity.url)
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
    with pytest.raises(ClientAuthenticationError, match="X-IDENTITY-HEADER"):
        ManagedIdentityCredential().get_token("https://batch.core.windows.net//.default")
    monkeypatch.setenv("IDENTITY_HEADER", identity.secret)
    with pytest.raises(ClientAuthenticationError, match="unknown resource"):
        ManagedIdentityCredential().get_token("https://storage.azure.com/.default")
    token = ManagedIdentityCredential().get_token("https://batch.core.windows.net//.default")
    assert token.token == identity.token
    assert token.expires_on > time.time() + 3000
    assert [(r.secret_ok, r.status) for r in identity.requests] == [
        (False, 401),
        (True, 400),
        (True, 200),
    ]


def test_cluster_from_environment_with_entra_id(monkeypatch, identity, shared_key_client):
    with (
        BatchEmulator(tokens=[identity.token], allocation_delay=0.2, tls=True) as emu,
        entra_env(monkeypatch, identity, emu),
    ):
        with (
            AzureBatchCluster(pool_id="entra", worker_python=sys.executable) as cluster,
            Client(cluster) as client,
        ):
            cluster.scale(1)
            client.wait_for_workers(1, timeout=30)
            assert client.submit(sum, [1, 2]).result() == 3
            job_id = cluster.job_id
        batch = shared_key_client(emu)
        assert batch.get_job(job_id).state == "completed"
        with pytest.raises(ResourceNotFoundError):
            batch.get_pool("entra")
        assert emu.pids() == []
    # the cluster authenticated with the managed identity's token only
    assert identity.requests
    assert {(r.resource, r.status) for r in identity.requests} == {(BATCH_RESOURCE, 200)}
