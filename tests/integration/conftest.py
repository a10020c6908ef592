"""Fixtures of the integration tests."""

from tests.support.cluster import cluster
from tests.support.pki import os_store, pki

__all__ = ["cluster", "os_store", "pki"]
