"""Settings from COUNTER_* variables and flags; bad values fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from counter import ConfigError, Settings
from counter.settings import default_workers


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.workers == default_workers()  # one per core
    assert (settings.server, settings.redis_client) == ("granian", "resp")
    assert settings.data_dir == Path("counter-data")
    assert settings.redis_url is None and settings.prefix == "cnt:"
    assert settings.ttl_ms == 15_778_800_000


def test_environment_then_flags() -> None:
    env = {"COUNTER_PORT": "9000", "COUNTER_DATA_DIR": "/srv/c", "COUNTER_REDIS_URL": ""}
    settings = Settings.from_env(env, port=9100, host=None)
    assert settings.port == 9100  # a flag wins over the environment
    assert settings.data_dir == Path("/srv/c") and settings.redis_url is None
    assert Settings.from_env(settings.to_env()) == settings  # what workers receive


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COUNTER_WORKERS": "two"}, "COUNTER_WORKERS must be an integer, got 'two'"),
        ({"COUNTER_PORT": "70000"}, "COUNTER_PORT (--port) must be between 1 and 65535"),
        ({"COUNTER_REDIS_URL": "localhost:6379"}, "must start with redis://"),
        ({"COUNTER_STATS_FLUSH_MS": "5000"}, "COUNTER_STATS_FLUSH_MS (--stats-flush-ms) must be"),
    ],
)
def test_invalid_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
