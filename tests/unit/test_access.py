"""Roles, the signed browser cookie, password-guessing limits and host names (pure parts)."""

from __future__ import annotations

import os
import stat

import pytest

from shared_utils.errors import SettingsError
from src.access.roles import Access, Forbidden, Policy
from src.access.session_cookie import (
    Claims,
    access_for,
    load_secret,
    password_fingerprint,
    sign,
)
from src.front.hosts import (
    allowed_hosts,
    client_address,
    host_name,
    is_local_request,
    origin_allowed,
)
from src.front.throttle import LoginThrottle

SECRET = b"k" * 64


@pytest.mark.parametrize(
    ("policy", "anonymous", "with_password", "with_admin"),
    [
        (Policy(), "admin", None, None),  # bare machine, no password: today's single user
        (Policy(on_space=True), "reader", None, None),  # a public Space: nobody administers
        (Policy(password="p"), "none", "admin", None),  # one password: whoever has it is admin
        (Policy(password="p", on_space=True), "none", "reader", None),
        (Policy(password="p", admin_password="a"), "none", "reader", "admin"),
        (Policy(admin_password="a", on_space=True), "reader", None, "admin"),
    ],
)
def test_roles(policy, anonymous, with_password, with_admin):
    assert policy.anonymous_role == anonymous
    assert policy.role_for_password("p") == with_password
    assert policy.role_for_password("a") == with_admin
    assert policy.role_for_password("wrong") is None
    assert policy.role_for_password("") is None, "an unset password never matches empty input"


def test_a_reader_is_refused_admin_actions_with_the_way_to_get_them():
    space = Policy(on_space=True)
    reader = Access(role="reader", browser_id="b", signed_in=False, policy=space)
    with pytest.raises(Forbidden) as err:
        reader.require_admin("delete documents")
    assert "delete documents" in err.value.message
    assert "OLYMPUS_ADMIN_PASSWORD" in err.value.hint and "secret" in err.value.hint
    admin = Access(
        role="admin",
        browser_id="b",
        signed_in=True,
        policy=Policy(admin_password="a", on_space=True, model_pulls=False),
    )
    admin.require_admin("delete documents")
    with pytest.raises(Forbidden) as err:
        admin.require_model_pulls()
    assert "OLYMPUS_ALLOW_MODEL_PULLS=true" in err.value.hint


def test_policy_repr_never_shows_a_password():
    assert "hunter2" not in repr(Policy(password="hunter2", admin_password="hunter2"))


def _cookie(policy: Policy, role="reader", expires=1000.0, secret=SECRET) -> str:
    return sign(
        Claims(
            "browser-1", role, expires, password_fingerprint(policy, secret), sign_in="signin-1"
        ),
        secret,
    )


def test_a_signed_cookie_grants_its_role_until_it_expires():
    policy = Policy(password="p", admin_password="a")
    value = _cookie(policy)
    access, _ = access_for(value, policy, SECRET, now=999.0)
    assert (access.role, access.browser_id, access.signed_in) == ("reader", "browser-1", True)
    access, _ = access_for(value, policy, SECRET, now=1000.0)
    assert access.role == "none" and access.browser_id == "browser-1", "id outlives the role"


def test_forged_or_tampered_cookies_grant_nothing():
    policy = Policy(password="p")
    value = _cookie(policy)
    payload, mac = value.split(".")
    forged = _cookie(policy, role="admin", secret=b"another secret" * 4)
    for bad in (
        forged,
        payload + "." + mac[:-2] + "AA",
        payload[:-1] + "." + mac,
        "x",
        "",
        None,
        "a.b.c",
        value + "\u00e9",
    ):
        access, claims = access_for(bad, policy, SECRET, now=0.0)
        assert access.role == "none" and claims is None, bad


def test_changing_a_password_signs_everyone_out_but_keeps_the_browser_id():
    value = _cookie(Policy(password="old"))
    access, _ = access_for(value, Policy(password="new"), SECRET, now=0.0)
    assert access.role == "none" and access.browser_id == "browser-1"


def test_the_secret_is_made_once_private_and_then_reused(tmp_path):
    first = load_secret(tmp_path)
    assert load_secret(tmp_path) == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert load_secret(tmp_path, "from-the-environment") == b"from-the-environment"
    (tmp_path / "secret_key").write_text("short")
    with pytest.raises(SettingsError, match="too short"):
        load_secret(tmp_path)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _keys(t: LoginThrottle, address: str, browser: str = "") -> list[str]:
    return t.keys(address, browser)


def test_an_address_is_locked_out_after_repeated_failures_then_let_in_again():
    clock = Clock()
    t = LoginThrottle(per_address=3, global_max=100, window_s=300, clock=clock)
    for _ in range(2):
        t.failed(_keys(t, "1.2.3.4"))
        clock.now += 10
    assert t.retry_after(_keys(t, "1.2.3.4")) == (0.0, "")
    t.failed(_keys(t, "1.2.3.4"))
    wait, scope = t.retry_after(_keys(t, "1.2.3.4"))
    assert scope == "address" and wait == pytest.approx(300)
    assert t.retry_after(_keys(t, "5.6.7.8")) == (0.0, ""), "other addresses are not locked"
    clock.now += 299
    assert t.retry_after(_keys(t, "1.2.3.4"))[0] == pytest.approx(1)
    clock.now += 1
    assert t.retry_after(_keys(t, "1.2.3.4")) == (0.0, "")
    for _ in range(3):  # the next lockout lasts twice as long
        t.failed(_keys(t, "1.2.3.4"))
    assert t.retry_after(_keys(t, "1.2.3.4"))[0] == pytest.approx(600)


def test_failures_spread_over_more_than_the_window_do_not_lock_out():
    clock = Clock()
    t = LoginThrottle(per_address=3, global_max=100, window_s=60, clock=clock)
    for _ in range(10):
        t.failed(_keys(t, "1.2.3.4"))
        clock.now += 31
        assert t.retry_after(_keys(t, "1.2.3.4")) == (0.0, "")


def test_a_success_clears_that_address_and_trusts_the_browser():
    clock = Clock()
    t = LoginThrottle(per_address=2, global_max=100, window_s=60, clock=clock)
    t.failed(_keys(t, "1.2.3.4"))
    t.succeeded(_keys(t, "1.2.3.4"), "owner-browser")
    t.failed(_keys(t, "1.2.3.4"))
    assert t.retry_after(_keys(t, "1.2.3.4")) == (0.0, "")
    assert t.trusted("owner-browser") and not t.trusted("someone-else")


def test_rotating_addresses_in_one_network_spends_the_network_budget():
    clock = Clock()
    t = LoginThrottle(per_address=2, global_max=1000, window_s=60, clock=clock)
    for i in range(8):  # 2 x NETWORK_FACTOR, one failure per address
        assert t.retry_after(_keys(t, f"198.51.100.{i}")) == (0.0, "")
        t.failed(_keys(t, f"198.51.100.{i}"))
    wait, scope = t.retry_after(_keys(t, "198.51.100.200"))
    assert scope == "network" and wait == pytest.approx(60)
    assert t.retry_after(_keys(t, "198.51.101.1")) == (0.0, ""), "the next network is not"


def test_many_addresses_slow_strangers_down_but_never_refuse_or_slow_the_owner():
    clock = Clock()
    t = LoginThrottle(per_address=5, global_max=10, window_s=60, clock=clock)
    t.succeeded(_keys(t, "192.0.2.1"), "owner-browser")
    for i in range(30):
        t.failed(_keys(t, f"10.{i}.0.1"))
    stranger = _keys(t, "192.168.1.1")
    assert t.retry_after(stranger) == (0.0, ""), "the global count never refuses"
    assert 0 < t.slow_down(stranger) <= 8.0
    owner = _keys(t, "10.0.0.1", "owner-browser")  # even from an attacker's address
    assert t.retry_after(owner) == (0.0, "") and t.slow_down(owner) == 0.0
    clock.now += 60
    assert t.slow_down(stranger) == 0.0


def test_lockouts_survive_a_restart(tmp_path):
    clock = Clock()
    clock.now = 1_000_000.0
    path = tmp_path / "login_throttle.json"
    t = LoginThrottle(per_address=2, global_max=100, window_s=300, clock=clock, state_path=path)
    for _ in range(2):
        t.failed(_keys(t, "1.2.3.4"))
    t.succeeded(_keys(t, "5.6.7.8"), "owner-browser")
    again = LoginThrottle(per_address=2, global_max=100, window_s=300, clock=clock, state_path=path)
    assert again.retry_after(_keys(again, "1.2.3.4"))[1] == "address"
    assert again.trusted("owner-browser")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_memory_stays_bounded_under_many_addresses():
    t = LoginThrottle(per_address=5, global_max=10, window_s=60, clock=Clock(), max_keys=100)
    for i in range(5000):
        t.failed(_keys(t, f"addr-{i}"))
    assert len(t._budgets) <= 100 and len(t._all) <= 80


def test_host_names_and_the_allowed_list():
    allowed = allowed_hosts("me-olympus.hf.space", ["Olympus.LAN", " "])
    for host in (
        "localhost:8501",
        "127.0.0.1",
        "[::1]:7860",
        "me-olympus.hf.space",
        "olympus.lan:80",
    ):
        assert host_name(host) in allowed, host
    for host in ("attacker.example", "localhost.attacker.example", "127.0.0.1.nip.io", ""):
        assert host_name(host) not in allowed, host
    assert origin_allowed(None, allowed) and origin_allowed("http://localhost:8501", allowed)
    assert not origin_allowed("https://attacker.example", allowed)


def test_forwarded_for_is_trusted_only_behind_a_proxy_and_only_its_last_entry():
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.9"}  # the client's claim, then the proxy's
    assert client_address("10.0.0.1", headers, trust_proxy=False) == "10.0.0.1"
    assert client_address("10.0.0.1", headers, trust_proxy=True) == "203.0.113.9"
    assert client_address("10.0.0.1", {}, trust_proxy=True) == "10.0.0.1"
    # a client on the Internet that reaches the front directly cannot name its address
    assert client_address("93.184.216.34", headers, trust_proxy=True) == "93.184.216.34"
    assert (
        client_address("10.0.0.1", {"x-forwarded-for": "localhost"}, trust_proxy=True) == "unknown"
    )


def test_only_a_request_from_this_machine_itself_is_local():
    assert is_local_request("127.0.0.1", {}, trust_proxy=False)
    assert not is_local_request("10.0.0.1", {}, trust_proxy=False)
    for forwarded in ("localhost", "6.6.6.6, 127.0.0.1", "127.0.0.1"):
        assert not is_local_request(
            "127.0.0.1", {"x-forwarded-for": forwarded}, trust_proxy=True
        ), forwarded
    assert not is_local_request("localhost", {}, trust_proxy=False), "names are not addresses"


def _request(headers: dict[str, str]):
    from starlette.requests import Request

    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "scheme": "http",
            "query_string": b"",
            "server": ("127.0.0.1", 8501),
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )


def test_cookie_attributes_follow_where_olympus_runs(data_dir):
    from src.front.config import FrontConfig
    from src.settings import load_settings

    claims = Claims("browser-1")
    bare = FrontConfig.from_settings(
        load_settings(data_dir=data_dir), upstream_port=1, secret=SECRET
    )
    header = bare.set_cookie_header(_request({"x-forwarded-proto": "https"}), claims)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header, "X-Forwarded-Proto counts only behind a trusted proxy"
    proxied = FrontConfig.from_settings(
        load_settings(data_dir=data_dir, behind_proxy=True), upstream_port=1, secret=SECRET
    )
    assert "; Secure" in proxied.set_cookie_header(_request({"x-forwarded-proto": "https"}), claims)
    space = FrontConfig.from_settings(
        load_settings(data_dir=data_dir, SPACE_ID="me/olympus", SPACE_HOST="me-olympus.hf.space"),
        upstream_port=1,
        secret=SECRET,
    )
    header = space.set_cookie_header(_request({}), claims)
    assert "SameSite=None; Secure; Partitioned" in header and "HttpOnly" in header
    assert "me-olympus.hf.space" in space.allowed and space.trust_proxy
