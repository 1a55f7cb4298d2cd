import pytest

from chassis.settings import DatabaseSettings, SettingsError, secret

pytestmark = pytest.mark.unit

GOOD = "k7PqX2vN9wLm4RtZ"
BASE = {"DATABASE_PRIMARY_HOSTS": "db-primary, db-replica", "DATABASE_NAME": "users", "DATABASE_USER": "users"}


def test_secret_from_file_wins_over_value(tmp_path):
    path = tmp_path / "pw"
    path.write_text(GOOD + "\n")
    assert secret("X", environ={"X_FILE": str(path), "X": "other-value-long-enough"}) == GOOD


@pytest.mark.parametrize("value", ["", "   ", "postgres", "Password", "changeme", "short"])
def test_empty_default_or_short_secrets_are_refused(value):
    with pytest.raises(SettingsError, match="X"):
        secret("X", environ={"X": value})


def test_unreadable_secret_file_names_the_variable(tmp_path):
    with pytest.raises(SettingsError, match="X_FILE=.*cannot be read"):
        secret("X", environ={"X_FILE": str(tmp_path / "missing")})


def test_database_settings_parse_host_lists_and_default_replicas():
    settings = DatabaseSettings.from_env({**BASE, "DATABASE_PASSWORD": GOOD})
    assert settings.primary_hosts == ("db-primary", "db-replica")
    assert settings.replica_hosts == settings.primary_hosts
    assert settings.port == 5432
    assert GOOD not in repr(settings)


@pytest.mark.parametrize("missing", sorted(BASE))
def test_each_required_setting_is_named_when_missing(missing):
    environ = {**BASE, "DATABASE_PASSWORD": GOOD}
    del environ[missing]
    with pytest.raises(SettingsError, match=missing):
        DatabaseSettings.from_env(environ)


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_bad_port_is_refused(port):
    with pytest.raises(SettingsError, match="DATABASE_PORT"):
        DatabaseSettings.from_env({**BASE, "DATABASE_PASSWORD": GOOD, "DATABASE_PORT": port})
