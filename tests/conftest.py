"""Suite-wide settings: prepared data sets are cached in a temporary folder, never in ~/.cache."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache(tmp_path_factory):
    old = os.environ.get("GRADCODE_CACHE")
    os.environ["GRADCODE_CACHE"] = str(tmp_path_factory.mktemp("gradcode-cache"))
    yield
    if old is None:
        os.environ.pop("GRADCODE_CACHE", None)
    else:
        os.environ["GRADCODE_CACHE"] = old
