"""The config file: every problem is listed at once, each naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.loader import load_config
from gateway.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway.yaml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert {u.name for u in config.support_units} >= {"TPM", "DMSU", "NGI_DE"}
    assert config.routing.default_support_unit == "TPM"


def test_bad_config_lists_every_error_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
version: 1
support_units:
  - name: TPM
    level: zeroth
  - level: second
    colour: blue
routing:
  default_unit: TPM
flavour: vanilla
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    keys = {d["key"]: d["message"] for d in raised.value.details}
    assert set(keys) == {
        "flavour",
        "support_units[0].level",
        "support_units[1].name",
        "support_units[1].colour",
        "routing.default_unit",
    }
    assert keys["flavour"] == "unknown key"
    assert "zeroth" in keys["support_units[0].level"]
    assert "5 problem(s)" in str(raised.value)


def test_semantic_errors_name_their_keys(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(
        "support_units: [{name: A, level: first}, {name: A, level: second}]\n"
        "routing: {default_support_unit: B}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert [d["key"] for d in raised.value.details] == [
        "support_units[1].name",
        "routing.default_support_unit",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [("{unclosed", "not valid YAML"), ("- a list", "top level must be a mapping")],
)
def test_unreadable_config_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")
