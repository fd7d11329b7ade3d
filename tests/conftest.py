import os

from hypothesis import HealthCheck, settings

# Each example steps whole schedules through two schedulers; keep the suite a few minutes.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=int(os.environ.get("ONECYCLE_HYPOTHESIS_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")
