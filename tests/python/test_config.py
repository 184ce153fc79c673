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
