"""Loading manifests: paths, directories, text, and the loader's errors as ConfigError."""

from __future__ import annotations

import json
import pathlib

import pytest

from conftest import DEMO_DIR, SMALL_CONFIG


# A directory loads every manifest in it, as the proxy does.
def test_load_directory(ig):
    config = ig.load_config(str(DEMO_DIR))
    assert config.backends == [
        "default/local-mistral",
        "default/anthropic-claude",
        "default/anthropic-claude-35",
        "default/openai-gpt4",
    ]
    assert config.routes == ["default/chatbot-route", "default/model-experiment"]


# A pathlib.Path and a single file load too.
def test_load_path_objects(ig):
    config = ig.load_config(DEMO_DIR / "backends.yaml")
    assert len(config.backends) == 4
    assert config.routes == []


# YAML text is parsed when the argument is not an existing path.
def test_load_text(ig):
    config = ig.load_config(SMALL_CONFIG)
    assert config.backends == ["default/cheap", "default/backup", "default/pricey"]
    assert config.routes == ["default/chat", "default/lab"]
    assert "<inferencegw.Config: 3 backends, 2 routes>" == repr(config)


# to_json renders the config without secrets.
def test_to_json_has_no_secret(ig):
    text = """
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {api-key: sk-very-secret}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: b}
spec:
  type: external
  external:
    url: "http://127.0.0.1:1/v1"
    apiKeySecret: {name: creds, key: api-key}
"""
    config = ig.load_config(text)
    rendered = config.to_json()
    assert "default/b" in rendered or '"b"' in rendered
    assert "sk-very-secret" not in rendered


# Errors carry the loader's message (where and what) in a ValueError subclass.
def test_config_error_message(ig):
    bad = SMALL_CONFIG.replace("backends: [cheap, backup]", "backends: [cheap, nowhere]")
    with pytest.raises(ig.ConfigError) as info:
        ig.load_config(bad)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert 'unknown backend "nowhere"' in message
    assert "spec.fallback.backends[1]" in message
    assert "InferenceRoute default/chat" in message


# Syntax errors in a file name the file and line.
def test_config_error_names_file(ig, tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text("kind: InferenceRoute\nmetadata: {name: x}\nspec:\n  bogusField: 1\n")
    with pytest.raises(ig.ConfigError) as info:
        ig.load_config(path)
    assert "routes.yaml" in str(info.value)
    assert "bogusField" in str(info.value)


# A missing path is a ConfigError that says so, whether given as Path or str.
def test_missing_path(ig, tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ig.ConfigError, match="no such file or directory"):
        ig.load_config(missing)
    with pytest.raises(ig.ConfigError, match="no such file or directory"):
        ig.load_config(str(missing))


# Wrong argument types raise TypeError; bytes are read as UTF-8 text.
def test_load_config_types(ig):
    with pytest.raises(TypeError, match="load_config"):
        ig.load_config(42)
    with pytest.raises(TypeError):
        ig.load_config(None)
    assert ig.load_config(SMALL_CONFIG.encode()).routes == ["default/chat", "default/lab"]
    with pytest.raises(ig.ConfigError, match="UTF-8"):
        ig.load_config(b"\xff\xfe")


# Empty text is a config with nothing in it, not a crash.
def test_load_empty(ig):
    config = ig.load_config("---\n")
    assert config.backends == [] and config.routes == []


# Warnings (a missing API-key Secret) are listed, not raised.
def test_warnings(ig):
    text = """
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: b}
spec:
  type: external
  external:
    url: "http://127.0.0.1:1/v1"
    apiKeySecret: {name: missing-secret, key: api-key}
"""
    config = ig.load_config(text)
    assert any("missing-secret" in w for w in config.warnings)


def _without_sources(value):
    if isinstance(value, dict):
        return {k: _without_sources(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list):
        return [_without_sources(v) for v in value]
    return value


# The same config loads from a file written out and from its text (only sources differ).
def test_file_and_text_agree(ig, tmp_path: pathlib.Path):
    path = tmp_path / "all.yaml"
    path.write_text(SMALL_CONFIG)
    from_file = json.loads(ig.load_config(path).to_json())
    from_text = json.loads(ig.load_config(SMALL_CONFIG).to_json())
    assert from_file["backends"][0]["source"].endswith("all.yaml:1")
    assert _without_sources(from_file) == _without_sources(from_text)


# The package says its version: meson.build's project version.
def test_version(ig):
    import pathlib

    meson_build = pathlib.Path(__file__).resolve().parents[2] / "meson.build"
    version = meson_build.read_text().split("version: '", 1)[1].split("'", 1)[0]
    assert ig.__version__ == version


# --- several sources ---------------------------------------------------------------------------

DEMO_FILES = [DEMO_DIR / "backends.yaml", DEMO_DIR / "routes.yaml", DEMO_DIR / "secrets.yaml"]


# The demo's three files given as sources load exactly as the directory does.
def test_several_sources_equal_directory(ig, demo_config):
    from_files = ig.load_config(*DEMO_FILES)
    assert from_files.to_json() == demo_config.to_json()
    assert ig.load_config([str(p) for p in DEMO_FILES]).to_json() == demo_config.to_json()
    assert from_files.warnings == demo_config.warnings == []


# Sources mix paths, text and Configs; references resolve across them.
def test_several_sources_mixed(ig):
    backends = ig.load_config(DEMO_DIR / "backends.yaml")
    routes_text = (DEMO_DIR / "routes.yaml").read_text()
    config = ig.load_config(backends, routes_text, (DEMO_DIR / "secrets.yaml").read_bytes())
    assert config.routes == ["default/chatbot-route", "default/model-experiment"]
    assert config.warnings == []


# Errors name the source (file and line, or "<string N>" for the Nth argument) they are in.
def test_several_sources_errors_name_source(ig):
    with pytest.raises(ig.ConfigError) as e:
        ig.load_config(DEMO_DIR / "backends.yaml", "kind: InferenceRoute\napiVersion: nope\n")
    assert "\n<string 2>:2: InferenceRoute: apiVersion: must be" in str(e.value)
    # routes.yaml alone names backends that are in no source: cited by file and line.
    with pytest.raises(ig.ConfigError, match=r"routes\.yaml:\d+: InferenceRoute default/"):
        ig.load_config(DEMO_DIR / "routes.yaml", DEMO_DIR / "secrets.yaml")
    with pytest.raises(ig.ConfigError, match="nope.yaml: no such file or directory"):
        ig.load_config(DEMO_DIR / "backends.yaml", "nope.yaml")
    with pytest.raises(TypeError):
        ig.load_config()


# An object defined in two sources is an error citing both places, as in one directory.
def test_several_sources_duplicate(ig, tmp_path):
    backend = (DEMO_DIR / "backends.yaml").read_text().split("---")[0]
    (tmp_path / "a.yaml").write_text(backend)
    (tmp_path / "b.yaml").write_text("# again\n" + backend)
    with pytest.raises(ig.ConfigError) as from_sources:
        ig.load_config(tmp_path / "a.yaml", tmp_path / "b.yaml")
    with pytest.raises(ig.ConfigError) as from_directory:
        ig.load_config(tmp_path)
    assert str(from_sources.value) == str(from_directory.value)
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    assert f'duplicate InferenceBackend "default/local-mistral": first defined at {a}:' in str(
        from_sources.value
    )
    assert str(from_sources.value).startswith(f"{b}:")


# --- with_overrides ----------------------------------------------------------------------------


def spec_of(config, section, key):
    return next(o for o in json.loads(config.to_json())[section] if f"{o['namespace']}/{o['name']}" == key)["spec"]


# Backend and route fields change; the rest of each object and the other objects do not.
def test_overrides_change_fields(ig, demo_config):
    changed = demo_config.with_overrides(
        {
            "backends": {"local-mistral": {"maxConcurrency": 20, "cost": {"inputTokenCost": "0.002"}}},
            "routes": {"default/chatbot-route": {"rateLimit": {"requestsPerMinute": 7}}},
        }
    )
    mistral = spec_of(changed, "backends", "default/local-mistral")
    assert mistral["maxConcurrency"] == 20
    assert mistral["cost"]["inputTokenCost"] == "0.002"
    assert mistral["cost"]["outputTokenCost"] == "0.0002"  # merged, not replaced
    assert mistral["kserve"]["serviceName"] == "mistral-7b"
    route = spec_of(changed, "routes", "default/chatbot-route")
    assert route["rateLimit"]["requestsPerMinute"] == 7
    assert route["rateLimit"]["perUser"] is True
    assert spec_of(changed, "backends", "default/openai-gpt4") == spec_of(
        demo_config, "backends", "default/openai-gpt4"
    )
    assert changed.backends == demo_config.backends and changed.routes == demo_config.routes


# The original Config is untouched; the keyword form and Decimal prices give the same result.
def test_overrides_leave_original(ig, demo_config):
    import decimal

    before = demo_config.to_json()
    a = demo_config.with_overrides({"backends": {"local-mistral": {"cost": {"inputTokenCost": "0.002"}}}})
    b = demo_config.with_overrides(
        backends={"default/local-mistral": {"cost": {"inputTokenCost": decimal.Decimal("0.002")}}}
    )
    assert demo_config.to_json() == before
    assert spec_of(demo_config, "backends", "default/local-mistral")["cost"]["inputTokenCost"] == "0.0002"
    assert spec_of(a, "backends", "default/local-mistral") == spec_of(b, "backends", "default/local-mistral")
    assert demo_config.with_overrides({}).to_json() == before


# None deletes a field (it takes its default); lists replace whole; None for an object removes it.
def test_overrides_delete_and_replace(ig, demo_config):
    changed = demo_config.with_overrides(
        routes={"chatbot-route": {"rateLimit": None, "fallback": {"backends": ["anthropic-claude"]}}}
    )
    route = spec_of(changed, "routes", "default/chatbot-route")
    assert "rateLimit" not in route or route["rateLimit"] is None
    assert route["fallback"]["backends"] == ["anthropic-claude"]
    fewer = changed.with_overrides(routes={"model-experiment": None})
    assert fewer.routes == ["default/chatbot-route"]
    # Removing a backend that routes still name fails where they name it.
    with pytest.raises(ig.ConfigError, match=r'routes\.yaml:\d+: .*unknown backend "openai-gpt4"'):
        demo_config.with_overrides(backends={"openai-gpt4": None})


# A lower rate limit throttles more of the same trace; a pricier backend costs more.
def test_overrides_change_simulation(ig, small_config):
    trace = [{"timestamp": i * 0.5, "user": "alice", "input_tokens": 100, "output_tokens": 50}
             for i in range(240)]  # 120 requests a minute for two minutes
    throttled = {}
    for rpm in (30, 60, 120):
        config = small_config.with_overrides(routes={"chat": {"rateLimit": {"requestsPerMinute": rpm}}})
        throttled[rpm] = ig.Simulator(config).run(trace, numpy=False).summary["throttled"]
    assert throttled[30] > throttled[60] > throttled[120] == 0
    pricier = small_config.with_overrides(backends={"cheap": {"cost": {"inputTokenCost": "0.01"}}})
    route = small_config.with_overrides(routes={"chat": {"rateLimit": None}})
    base = ig.Simulator(route).run(trace[:10], numpy=False)
    more = ig.Simulator(pricier.with_overrides(routes={"chat": {"rateLimit": None}})).run(trace[:10], numpy=False)
    assert more.summary["cost"]["total"]["USD"]["cost"] == pytest.approx(
        base.summary["cost"]["total"]["USD"]["cost"] + 10 * 100 / 1000 * (0.01 - 0.001)
    )


# A bad value gets the loader's own message, naming the override and the field.
@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"backends": {"cheap": {"maxConcurrency": 0}}},
         "<override backends.cheap>: InferenceBackend default/cheap: spec.maxConcurrency: must be at least 1, got 0"),
        ({"backends": {"cheap": {"maxConcurency": 3}}},
         '<override backends.cheap>: InferenceBackend default/cheap: spec.maxConcurency: unknown field; did you mean "maxConcurrency"?'),
        ({"backends": {"cheap": {"cost": {"inputTokenCost": "-1"}}}},
         "<override backends.cheap>: InferenceBackend default/cheap: spec.cost.inputTokenCost: "),
        ({"routes": {"chat": {"fallback": {"backends": ["claude"]}}}},
         '<override routes.chat>: InferenceRoute default/chat: spec.fallback.backends[0]: unknown backend "claude"'),
        ({"routes": {"chat": {"rateLimit": {"requestsPerMinute": "many"}}}},
         "<override routes.chat>: InferenceRoute default/chat: spec.rateLimit.requestsPerMinute: "),
    ],
)
def test_overrides_validated_by_loader(ig, small_config, overrides, message):
    with pytest.raises(ig.ConfigError) as e:
        small_config.with_overrides(overrides)
    assert str(e.value).startswith(message)


# Unknown objects and sections are named; wrong shapes are TypeErrors.
def test_overrides_unknown_names(ig, small_config):
    with pytest.raises(ig.ConfigError) as e:
        small_config.with_overrides({"backends": {"nope": {"priority": 1}}})
    assert str(e.value) == (
        '<override backends.nope>: no InferenceBackend "nope" '
        "(there are: default/cheap, default/backup, default/pricey)"
    )
    with pytest.raises(ig.ConfigError, match='<override routes.other/chat>: no InferenceRoute "other/chat"'):
        small_config.with_overrides(routes={"other/chat": {}})
    with pytest.raises(ig.ConfigError, match="unknown section 'backend'"):
        small_config.with_overrides({"backend": {"cheap": {}}})
    with pytest.raises(TypeError):
        small_config.with_overrides({"backends": {"cheap": 3}})
    with pytest.raises(TypeError):
        small_config.with_overrides({"backends": ["cheap"]})
    with pytest.raises(TypeError):
        small_config.with_overrides({"backends": {}}, backends={})
    with pytest.raises(TypeError, match="<override backends.cheap>: .*object"):
        small_config.with_overrides(backends={"cheap": {"priority": object()}})


# Objects are added by loading them together with a Config.
def test_add_object_by_loading_with_config(ig, small_config):
    extra = """
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: spare}
spec:
  type: external
  external: {url: "http://127.0.0.1:4/v1", provider: openai}
"""
    bigger = ig.load_config(small_config, extra)
    assert bigger.backends[-1] == "default/spare"
    chained = bigger.with_overrides(routes={"chat": {"fallback": {"backends": ["cheap", "spare"]}}})
    assert spec_of(chained, "routes", "default/chat")["fallback"]["backends"] == ["cheap", "spare"]
    with pytest.raises(ig.ConfigError, match='duplicate InferenceBackend "default/spare"'):
        ig.load_config(bigger, extra)


# Secrets stay out of to_json() and of error messages, overrides or not.
def test_overrides_never_show_secrets(ig, demo_config):
    changed = demo_config.with_overrides(backends={"openai-gpt4": {"priority": 5}})
    assert "demo-openai-key" not in changed.to_json()
    assert "demo-anthropic-key" not in changed.to_json()
    for bad in ({"backends": {"openai-gpt4": {"external": {"apiKeySecret": {"key": None}}}}},
                {"backends": {"openai-gpt4": {"external": {"url": 3}}}},
                {"backends": {"openai-gpt4": None}}):
        with pytest.raises(ig.ConfigError) as e:
            changed.with_overrides(bad)
        assert "demo-openai-key" not in str(e.value) and "demo-anthropic-key" not in str(e.value)
