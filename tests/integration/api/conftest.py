from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Env
from tests.support.api import Api, serving_api


@pytest.fixture(scope="module")
def api(agentpod_env: Env) -> Iterator[Api]:
    with serving_api(agentpod_env) as served:
        yield served
