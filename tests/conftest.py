"""Session-wide fixtures: each real browser starts once per run, on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browsers import (
    RunningBrowser,
    running_chromedriver,
    running_chromium,
    running_firefox,
)


@pytest.fixture(scope="session")
def firefox() -> Iterator[RunningBrowser]:
    with running_firefox() as browser:
        yield browser


@pytest.fixture(scope="session")
def chromedriver() -> Iterator[RunningBrowser]:
    with running_chromedriver() as browser:
        yield browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[RunningBrowser]:
    with running_chromium() as browser:
        yield browser
