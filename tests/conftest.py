import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Each example steps whole schedules through two schedulers; keep the suite a few minutes.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=int(os.environ.get("ONECYCLE_HYPOTHESIS_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """torch on one thread during the test (torch is imported only by tests that use this)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
