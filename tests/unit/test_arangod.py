from src.settings import load_settings
from src.supervisor.arangod import arangod_spec


def test_local_arangod_is_private_capped_and_under_the_data_dir(tmp_path):
    s = load_settings(data_dir=tmp_path, arango_memory_mb=512)
    spec = arangod_spec(s, which=lambda name: "/usr/sbin/arangod")
    assert spec is not None
    argv = " ".join(spec.argv)
    assert "tcp://127.0.0.1:8529" in argv  # never reachable from outside the container
    assert str(tmp_path / "arangodb" / "db") in argv
    assert spec.env["ARANGODB_OVERRIDE_DETECTED_TOTAL_MEMORY"] == str(512 * 1024 * 1024)
    assert spec.ready_url.endswith("/_admin/server/availability")


def test_no_local_arangod_when_a_url_is_given_or_none_is_installed(tmp_path):
    s = load_settings(data_dir=tmp_path, arango_url="http://db:8529")
    assert arangod_spec(s, which=lambda name: "/usr/sbin/arangod") is None
    s = load_settings(data_dir=tmp_path)
    assert arangod_spec(s, which=lambda name: None) is None
