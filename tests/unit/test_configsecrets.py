"""Secret fields of a config: found from the schema's writeOnly marks, masked, kept when a
masked config is written back."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentpod.core.adapters import secret_paths_of
from agentpod.core.configsecrets import MASK, SECRET, map_secrets, masked, secret_paths, unmasked


class Inner(BaseModel):
    password: str = Field(default="", json_schema_extra=SECRET)
    user: str = ""


class Outer(BaseModel):
    env: dict[str, str] = {}
    secret_env: dict[str, str] = Field(default_factory=dict, json_schema_extra=SECRET)
    db: Inner = Inner()


def test_paths_follow_refs_and_stop_at_the_secret() -> None:
    assert set(secret_paths(Outer.model_json_schema())) == {("secret_env",), ("db", "password")}
    assert secret_paths_of("generic") == (("secret_env",),)
    assert secret_paths_of("no-such-type") == ()


def test_mask_map_and_unmask() -> None:
    paths = secret_paths(Outer.model_json_schema())
    config = {"env": {"A": "1"}, "secret_env": {"T": "x"}, "db": {"password": "p", "user": "u"}}
    shown = masked(config, paths)
    assert shown == {
        "env": {"A": "1"},
        "secret_env": {"T": MASK},
        "db": {"password": MASK, "user": "u"},
    }
    assert config["secret_env"] == {"T": "x"}  # the original is not changed
    assert map_secrets({"env": {}}, paths, str.upper) == {"env": {}}  # absent fields: as is
    back = unmasked({**shown, "secret_env": {"T": MASK, "N": "new"}}, config, paths)
    assert back == {**config, "secret_env": {"T": "x", "N": "new"}}
    assert unmasked({"db": {"password": MASK}}, {}, paths) == {"db": {"password": MASK}}


def test_a_provider_key_is_refused_in_secret_env_too() -> None:
    from agentpod.core.llm import provider_keys_in

    assert provider_keys_in({"secret_env": {"OPENAI_API_KEY": "sk"}}) == [
        "secret_env.OPENAI_API_KEY"
    ]
