"""Logins, sessions, CSRF, throttling and API keys, through the real API (uvicorn) and the
real database."""

from __future__ import annotations

import time

import pytest

from agentpod.core.accounts import AccountError
from agentpod.services.accounts_store import AccountStore
from tests.support.api import PASSWORD, Api, random_address

LOGIN = "/api/v1/auth/login"


def _problem(response, status: int, detail: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and "\n" not in body["detail"]
    if detail is not None:
        assert body["detail"] == detail
    return body


def test_login_sets_an_httponly_session_cookie_and_me_answers(api: Api, tenant: str) -> None:
    api.ctx.store.create_tenant(tenant)
    name = api.user("member", [tenant])
    client = api.client()
    response = client.post(LOGIN, json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = next(c for c in response.headers.get_list("set-cookie") if "agentpod_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert response.json()["user"] == {
        **response.json()["user"],
        "name": name,
        "role": "member",
        "tenants": [tenant],
    }
    me = client.get("/api/v1/me").json()
    assert (me["kind"], me["name"], me["tenants"]) == ("user", name, [tenant])
    assert me["scopes"] == ["pods:read", "pods:write", "tenants:read"]


def test_the_cookie_is_secure_over_https(api: Api) -> None:
    name = api.user("viewer")
    client = api.client(**{"X-Forwarded-Proto": "https"})
    response = client.post(LOGIN, json={"username": name, "password": PASSWORD})
    cookie = next(c for c in response.headers.get_list("set-cookie") if "agentpod_session=" in c)
    assert "Secure" in cookie


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    name = api.user("viewer")
    client = api.client()
    for user, password in ((name, "wrong password"), ("nobody-here", PASSWORD)):
        response = client.post(LOGIN, json={"username": user, "password": password})
        _problem(response, 401, "wrong user name or password")
    _problem(client.get("/api/v1/me"), 401)
    _problem(client.post(LOGIN, json={"username": name}), 422, "password: Field required")


def test_cookie_requests_need_the_csrf_token_to_change_anything(api: Api) -> None:
    client = api.session("viewer")
    token = client.headers.pop("X-CSRF-Token")
    assert client.get("/api/v1/me").status_code == 200  # safe methods need none
    _problem(client.post("/api/v1/auth/logout"), 403)
    client.headers["X-CSRF-Token"] = token[:-2] + "xx"
    _problem(client.post("/api/v1/auth/logout"), 403)
    client.headers["X-CSRF-Token"] = token
    assert client.post("/api/v1/auth/logout").status_code == 204
    _problem(client.get("/api/v1/me"), 401)  # the session is gone, not just the cookie


def test_logout_ends_the_session_server_side(api: Api) -> None:
    client = api.session("viewer")
    cookie = client.cookies["agentpod_session"]
    assert client.post("/api/v1/auth/logout").status_code == 204
    replay = api.client()
    replay.cookies.set("agentpod_session", cookie)
    _problem(replay.get("/api/v1/me"), 401, "the session has expired or ended: log in again")


def test_failed_logins_are_slowed_then_locked_per_user(api: Api) -> None:
    name = api.user("viewer")
    client = api.client()
    wrong = {"username": name, "password": "not the password"}
    for _ in range(4):  # three free failures, then each one waits longer
        _problem(client.post(LOGIN, json=wrong), 401)
    store = AccountStore(api.ctx.store)
    assert store.failures("user", name)[0] == 4
    for _ in range(2):  # 6 failures: 4 s to wait, however slow this machine is
        store.add_failure("user", name, 900)
    right = {"username": name, "password": PASSWORD}
    throttled = client.post(LOGIN, json=right)
    assert "try again in" in _problem(throttled, 429)["detail"]
    _problem(api.client().post(LOGIN, json=right), 429)  # from another address too
    time.sleep(int(throttled.headers["retry-after"]) + 0.2)
    assert client.post(LOGIN, json=right).status_code == 200  # a success forgets failures
    assert store.failures("user", name)[0] == 0
    for _ in range(10):
        store.add_failure("user", name, 900)
    locked = client.post(LOGIN, json=right)
    _problem(locked, 429)
    assert 890 <= int(locked.headers["retry-after"]) <= 900


def test_failed_logins_are_slowed_per_client_address(api: Api) -> None:
    name = api.user("viewer")
    right = {"username": name, "password": PASSWORD}
    address = random_address()
    client = api.client(address)
    for i in range(11):  # a different user each time: only the address adds up
        response = client.post(LOGIN, json={"username": f"guess{i}", "password": "x"})
        _problem(response, 401)
    store = AccountStore(api.ctx.store)
    assert store.failures("address", address)[0] == 11
    for _ in range(4):  # 15 failures: 16 s to wait, however slow this machine is
        store.add_failure("address", address, 900)
    throttled = client.post(LOGIN, json=right)
    _problem(throttled, 429)
    assert 10 <= int(throttled.headers["retry-after"]) <= 16
    assert api.client().post(LOGIN, json=right).status_code == 200


def test_api_keys_act_within_their_scopes_until_revoked(api: Api, tenant: str) -> None:
    api.ctx.store.create_tenant(tenant)
    admin = api.user("admin")
    reader = api.bearer(api.key(admin, ["pods:read"], tenant))
    me = reader.get("/api/v1/me").json()
    assert (me["kind"], me["tenants"], me["scopes"]) == ("apikey", [tenant], ["pods:read"])
    _problem(reader.get("/api/v1/users"), 403)  # an admin's key has only its scopes
    assert reader.post("/api/v1/auth/logout").status_code == 204  # Bearer: no CSRF token
    with pytest.raises(AccountError, match="a key bound to a tenant cannot have users:admin"):
        api.key(admin, ["users:admin"], tenant)
    full = api.key(admin, ["users:admin"])
    assert api.bearer(full).get("/api/v1/users").status_code == 200
    key_id = full.split("_")[1]
    assert api.session("admin").delete(f"/api/v1/apikeys/{key_id}").status_code == 204
    _problem(
        api.bearer(full).get("/api/v1/me"), 401, f"API key {key_id} is revoked: create a new one"
    )
    _problem(api.bearer(full[:-3] + "abc").get("/api/v1/me"), 401)
    _problem(api.bearer("nonsense").get("/api/v1/me"), 401)


def test_an_expired_key_is_refused(api: Api) -> None:
    key = api.key(api.user("viewer"), ["pods:read"])
    assert api.bearer(key).get("/api/v1/me").status_code == 200
    with api.ctx.store.tx() as conn:
        conn.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s",
            (key.split("_")[1],),
        )
    _problem(api.bearer(key).get("/api/v1/me"), 401)


def test_a_key_never_has_more_than_its_users_role(api: Api, tenant: str) -> None:
    api.ctx.store.create_tenant(tenant)
    viewer = api.session("viewer", [tenant])
    refused = viewer.post("/api/v1/apikeys", json={"scopes": ["pods:write"]})
    _problem(
        refused, 422, "scope pods:write is beyond role viewer (it has pods:read, tenants:read)"
    )
    other = viewer.post("/api/v1/apikeys", json={"scopes": ["pods:read"], "tenant": "elsewhere"})
    _problem(other, 422)
    made = viewer.post("/api/v1/apikeys", json={"scopes": ["pods:read"], "expires": "1d"})
    assert made.status_code == 201, made.text
    listed = viewer.get("/api/v1/apikeys").json()
    assert [k["id"] for k in listed] == [made.json()["id"]]
    assert "key" not in listed[0]
    me = api.bearer(made.json()["key"]).get("/api/v1/me").json()
    assert me["tenants"] == [tenant]


def test_people_manage_only_their_own_keys(api: Api) -> None:
    theirs = api.key(api.user("member"), ["pods:read"]).split("_")[1]
    member = api.session("member")
    _problem(member.delete(f"/api/v1/apikeys/{theirs}"), 404)
    _problem(member.get("/api/v1/apikeys", params={"user": "someone"}), 403)
    _problem(member.post("/api/v1/apikeys", json={"user": "someone", "scopes": ["pods:read"]}), 403)


def test_users_are_managed_by_admins_only(api: Api, tenant: str) -> None:
    api.ctx.store.create_tenant(tenant)
    admin, operator = api.session("admin"), api.session("operator")
    new = {"name": f"x{tenant}", "role": "member", "tenants": [tenant], "password": PASSWORD}
    _problem(operator.post("/api/v1/users", json=new), 403)
    assert admin.post("/api/v1/users", json=new).status_code == 201
    _problem(admin.post("/api/v1/users", json=new), 409, f"user 'x{tenant}' already exists")
    _problem(admin.post("/api/v1/users", json={**new, "name": "Bad Name"}), 422)
    _problem(admin.post("/api/v1/users", json={**new, "name": "y", "tenants": ["nope"]}), 404)
    change = {"role": "viewer", "remove_tenants": [tenant]}
    changed = admin.patch(f"/api/v1/users/x{tenant}", json=change).json()
    assert (changed["role"], changed["tenants"]) == ("viewer", [])
    assert admin.delete(f"/api/v1/users/x{tenant}").status_code == 204
    _problem(admin.get(f"/api/v1/users/x{tenant}"), 404)


def test_a_new_password_ends_the_users_sessions(api: Api) -> None:
    client = api.session("member")
    name = client.get("/api/v1/me").json()["name"]
    wrong = {"password": "a new password", "current_password": "not it"}
    _problem(client.put(f"/api/v1/users/{name}/password", json=wrong), 403)
    right = {"password": "a new password", "current_password": PASSWORD}
    assert client.put(f"/api/v1/users/{name}/password", json=right).status_code == 204
    _problem(client.get("/api/v1/me"), 401)
    again = {"username": name, "password": "a new password"}
    assert api.client().post(LOGIN, json=again).status_code == 200


def test_secrets_are_stored_only_as_hashes(api: Api) -> None:
    name = api.user("viewer")
    key = api.key(name, ["pods:read"])
    client = api.client()
    client.post(LOGIN, json={"username": name, "password": PASSWORD})
    session = client.cookies["agentpod_session"]
    with api.ctx.store.pool.connection() as conn:
        dump = "".join(
            str(conn.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("users", "sessions", "api_keys")
        )
    assert PASSWORD not in dump and key.split("_", 2)[2] not in dump and session not in dump
