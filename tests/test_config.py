"""Scenario configuration: shipped files, ``extends:``, overrides and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from agentsim.config import LEVERS, Config, ConfigError, parameter_spec
from agentsim.scenario_io import (
    DEFAULT_SCENARIO,
    SCENARIO_DIR,
    config_to_dict,
    dump_config,
    load_config,
    scenario_path,
    shipped_scenarios,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
BASELINE = ROOT / "configs" / "baseline.yaml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def config_error(*args, **kwargs) -> ConfigError:
    """The ConfigError raised by ``load_config(*args, **kwargs)``, checked to be one line."""
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.strip() == message and message
    return info.value


@pytest.fixture(scope="module")
def baseline() -> Config:
    return load_config(BASELINE)


# --------------------------------------------------------------------------- shipped scenarios


def test_configs_folder_is_not_empty():
    assert BASELINE in CONFIGS
    assert len(CONFIGS) >= 2


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_validates(path: Path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name  # every file names itself (or takes its file name)
    assert "US" in cfg.jurisdictions
    assert all(lab.jurisdiction in cfg.jurisdictions for lab in cfg.labs.values())


def test_baseline_world(baseline: Config):
    assert baseline.name == "baseline"
    assert len(baseline.labs) >= 12
    assert set(baseline.jurisdictions) == {"US", "CN", "EU", "GULF", "ROW"}
    assert sum(j.researcher_share for j in baseline.jurisdictions.values()) == pytest.approx(1)
    assert not baseline.policy.trusted_release.enabled
    assert not baseline.policy.export_controls.enabled


def test_policy_scenarios_extend_baseline(baseline: Config):
    trusted = load_config(ROOT / "configs" / "trusted_release.yaml")
    assert trusted.policy.trusted_release.enabled
    assert trusted.labs == baseline.labs
    assert trusted.jurisdictions == baseline.jurisdictions
    combined = load_config(ROOT / "configs" / "combined.yaml")
    assert combined.policy.trusted_release.enabled
    assert combined.policy.export_controls.enabled


# --------------------------------------------------------------------------- extends


def test_extends_overrides_one_nested_key_and_keeps_the_rest(tmp_path: Path, baseline: Config):
    sub = tmp_path / "nested"
    sub.mkdir()
    write(sub / "parent.yaml", BASELINE.read_text(encoding="utf-8"))
    child = write(
        tmp_path / "child.yaml",
        (
            "extends: nested/parent.yaml\n"
            "name: child\n"
            "research:\n"
            "  noise: 0.11\n"
            "labs:\n"
            "  OpenAI: {cash_billions: 41}\n"
        ),
    )
    cfg = load_config(child)
    assert cfg.name == "child"
    assert cfg.research.noise == 0.11
    # the sibling keys of the overridden one come from the parent, not from the defaults
    assert cfg.research.talent_elasticity == baseline.research.talent_elasticity
    assert cfg.research.generation_gap_ooms == baseline.research.generation_gap_ooms
    assert cfg.labs["OpenAI"].cash_billions == 41
    assert cfg.labs["OpenAI"].capacity_h100e == baseline.labs["OpenAI"].capacity_h100e
    assert list(cfg.labs) == list(baseline.labs)
    assert cfg.market == baseline.market
    assert cfg.jurisdictions == baseline.jurisdictions


def test_extends_chain_of_three_files(tmp_path: Path):
    write(tmp_path / "a.yaml", BASELINE.read_text(encoding="utf-8"))
    write(tmp_path / "b.yaml", "extends: a.yaml\nresearch: {noise: 0.2}\n")
    c = write(tmp_path / "c.yaml", "extends: b.yaml\nresearch: {leak_probability: 0.5}\n")
    cfg = load_config(c)
    assert cfg.research.noise == 0.2
    assert cfg.research.leak_probability == 0.5
    assert cfg.name == "baseline"  # inherited from the root of the chain
    assert len(cfg.labs) == len(load_config(BASELINE).labs)


def test_extends_self_cycle_is_an_error(tmp_path: Path):
    loop = write(tmp_path / "loop.yaml", "extends: loop.yaml\nname: loop\n")
    err = config_error(loop)
    assert "cycle" in str(err)
    assert "loop.yaml" in str(err)


def test_extends_two_file_cycle_is_an_error(tmp_path: Path):
    write(tmp_path / "one.yaml", "extends: two.yaml\n")
    two = write(tmp_path / "two.yaml", "extends: one.yaml\n")
    err = config_error(two)
    assert "cycle" in str(err)


def test_extends_missing_file_names_the_file(tmp_path: Path):
    child = write(tmp_path / "child.yaml", "extends: no_such_parent.yaml\nname: child\n")
    err = config_error(child)
    assert "no_such_parent.yaml" in str(err)
    assert "not found" in str(err)


def test_extends_must_be_a_path(tmp_path: Path):
    child = write(tmp_path / "child.yaml", "extends: [a.yaml, b.yaml]\n")
    err = config_error(child)
    assert err.key == "extends"


# --------------------------------------------------------------------------- overrides


def test_assignments_and_overrides_set_values(baseline: Config):
    cfg = load_config(BASELINE, assignments=["policy.trusted_release.trusted_fraction=0.02"])
    assert cfg.policy.trusted_release.trusted_fraction == 0.02
    cfg = load_config(BASELINE, overrides={"policy.trusted_release.trusted_fraction": 0.03})
    assert cfg.policy.trusted_release.trusted_fraction == 0.03
    # everything else is untouched
    assert cfg.model_copy(update={"policy": baseline.policy}) == baseline


def test_assignment_wins_over_override_of_the_same_key():
    cfg = load_config(
        BASELINE, overrides={"research.noise": 0.1}, assignments=["research.noise=0.2"]
    )
    assert cfg.research.noise == 0.2


def test_assignment_values_are_typed_as_yaml():
    cfg = load_config(
        BASELINE,
        assignments=[
            "simulation.steps=12",
            "research.noise=0.125",
            "compute.flops_per_h100e=2.0e+15",
            "policy.trusted_release.enabled=true",
            "policy.export_controls.enabled=false",
            "policy.trusted_release.jurisdictions=[US, CN]",
            "market.closed=[[US, CN]]",
            "policy.export_controls.capacity_cap_h100e=null",
            "simulation.start=2027-03",
            "name=my run",
        ],
    )
    assert cfg.simulation.steps == 12 and isinstance(cfg.simulation.steps, int)
    assert cfg.research.noise == 0.125
    assert cfg.compute.flops_per_h100e == 2.0e15
    assert cfg.policy.trusted_release.enabled is True
    assert cfg.policy.export_controls.enabled is False
    assert cfg.policy.trusted_release.jurisdictions == ["US", "CN"]
    assert cfg.market.closed == [("US", "CN")]
    assert cfg.policy.export_controls.capacity_cap_h100e is None
    assert cfg.simulation.start == "2027-03"
    assert cfg.name == "my run"


def test_new_lab_from_dotted_keys(baseline: Config):
    cfg = load_config(
        BASELINE,
        assignments=[
            "labs.NewLab.jurisdiction=EU",
            "labs.NewLab.cash_billions=3.5",
            "labs.NewLab.open_weights=true",
        ],
    )
    assert set(cfg.labs) == set(baseline.labs) | {"NewLab"}
    lab = cfg.labs["NewLab"]
    assert lab.jurisdiction == "EU"
    assert lab.cash_billions == 3.5
    assert lab.open_weights is True
    assert lab.capacity_h100e == 10_000.0  # unset keys take the schema defaults
    cfg2 = load_config(BASELINE, overrides={"labs.NewLab.jurisdiction": "GULF"})
    assert cfg2.labs["NewLab"].jurisdiction == "GULF"


def test_dotted_key_into_a_mapping_of_values(baseline: Config):
    cfg = load_config(BASELINE, assignments=["capital.capital_billions.US=123"])
    assert cfg.capital.capital_billions["US"] == 123
    assert cfg.capital.capital_billions["CN"] == baseline.capital.capital_billions["CN"]


def test_whole_mapping_of_values_can_be_replaced():
    cfg = load_config(BASELINE, assignments=["capital.capital_billions={US: 100, CN: 10}"])
    assert cfg.capital.capital_billions == {"US": 100.0, "CN": 10.0}


def test_file_name_is_the_default_scenario_name(tmp_path: Path):
    body = BASELINE.read_text(encoding="utf-8").replace("name: baseline\n", "")
    cfg = load_config(write(tmp_path / "unnamed_world.yaml", body))
    assert cfg.name == "unnamed_world"


# --------------------------------------------------------------------------- one-line errors


def test_malformed_yaml_names_file_and_line(tmp_path: Path):
    bad = write(tmp_path / "bad.yaml", "name: x\nresearch:\n  noise: [0.1, 0.2\nmarket: {}\n")
    err = config_error(bad)
    message = str(err)
    assert "bad.yaml" in message
    assert "malformed YAML" in message
    assert "line" in message
    tab = write(tmp_path / "tab.yaml", "research:\n\tnoise: 0.1\n")
    assert "line 2" in str(config_error(tab))


def test_top_level_must_be_a_mapping(tmp_path: Path):
    err = config_error(write(tmp_path / "list.yaml", "- 1\n- 2\n"))
    assert "mapping" in str(err)


@pytest.mark.parametrize(
    ("key", "guess"),
    [
        ("policy.trusted_release.trusted_fracton", "trusted_fraction"),
        ("research.nosie", "noise"),
        ("labs.OpenAI.cash_billion", "cash_billions"),
        ("simulaton.steps", "simulation"),
    ],
)
def test_unknown_key_in_assignment_suggests_the_right_one(key: str, guess: str):
    for kwargs in ({"assignments": [f"{key}=0.5"]}, {"overrides": {key: 0.5}}):
        err = config_error(BASELINE, **kwargs)
        message = str(err)
        assert "unknown key" in message
        assert f"did you mean {guess!r}" in message
        assert message.startswith(key.split(".")[0])


def test_unknown_key_in_file_suggests_the_right_one(tmp_path: Path):
    child = write(
        tmp_path / "typo.yaml",
        (
            "extends: " + str(BASELINE) + "\n"
            "policy:\n"
            "  trusted_release:\n"
            "    trusted_fracton: 0.02\n"
        ),
    )
    err = config_error(child)
    assert str(err).startswith("policy.trusted_release.trusted_fracton: unknown key")
    assert "did you mean 'trusted_fraction'" in str(err)


def test_unknown_key_without_close_match_lists_known_keys():
    err = config_error(BASELINE, assignments=["zzzzzz=1"])
    assert "zzzzzz" in str(err)
    assert "known keys" in str(err) and "simulation" in str(err)


@pytest.mark.parametrize(
    ("assignment", "key", "words"),
    [
        ("simulation.steps=many", "simulation.steps", ["integer", "many"]),
        ("simulation.steps=2.5", "simulation.steps", ["integer"]),
        ("policy.trusted_release.enabled=maybe", "policy.trusted_release.enabled", ["boolean"]),
        ("research=3", "research", ["dictionary"]),
        ("simulation.start=2026-13", "simulation.start", ["must match"]),
        ("labs.NewLab.jurisdiction=eu", "labs.NewLab.jurisdiction", ["must match"]),
    ],
)
def test_wrong_type(assignment: str, key: str, words: list[str]):
    err = config_error(BASELINE, assignments=[assignment])
    assert str(err).startswith(f"{key}: ")
    for word in words:
        assert word in str(err)


@pytest.mark.parametrize(
    ("assignment", "key", "bound"),
    [
        ("simulation.steps=0", "simulation.steps", ">= 1"),
        ("simulation.steps=601", "simulation.steps", "<= 600"),
        (
            "policy.trusted_release.trusted_fraction=1.5",
            "policy.trusted_release.trusted_fraction",
            "<= 1",
        ),
        (
            "policy.trusted_release.trusted_fraction=0",
            "policy.trusted_release.trusted_fraction",
            "> 0",
        ),
        ("compute.price_decline_per_year=1", "compute.price_decline_per_year", "< 1"),
        ("labs.OpenAI.cash_billions=-1", "labs.OpenAI.cash_billions", ">= 0"),
        ("jurisdictions.EU.researcher_share=2", "jurisdictions.EU.researcher_share", "<= 1"),
    ],
)
def test_out_of_range_names_the_bound(assignment: str, key: str, bound: str):
    err = config_error(BASELINE, assignments=[assignment])
    message = str(err)
    assert message.startswith(f"{key}: must be {bound}")
    assert "(got " in message


def test_out_of_range_in_file(tmp_path: Path):
    child = write(tmp_path / "range.yaml", f"extends: {BASELINE}\nflywheel:\n  strength: 9\n")
    err = config_error(child)
    assert str(err) == "flywheel.strength: must be <= 3.0 (got 9)"


def test_missing_file_names_it(tmp_path: Path):
    missing = tmp_path / "nowhere" / "scenario.yaml"
    err = config_error(missing)
    assert str(missing) in str(err)
    assert "not found" in str(err)
    assert "not found" in str(config_error(tmp_path))  # a folder is not a scenario file


@pytest.mark.parametrize("expression", ["simulation.steps", "=3", "a..b=1", ".a=1", "a.=1", ""])
def test_bad_set_expression(expression: str):
    err = config_error(BASELINE, assignments=[expression])
    assert str(err).startswith("--set: ")
    assert "KEY=VALUE" in str(err)


def test_set_value_that_is_not_yaml():
    err = config_error(BASELINE, assignments=["research.noise=[0.1, 0.2"])
    assert str(err).startswith("research.noise: ")
    assert "YAML" in str(err)


def test_set_into_a_value_is_an_error():
    err = config_error(BASELINE, assignments=["simulation.steps.x=3"])
    assert str(err).startswith("simulation.steps: ")
    assert "not a section" in str(err)


def test_researcher_shares_must_sum_to_one():
    err = config_error(BASELINE, assignments=["jurisdictions.US.researcher_share=0.6"])
    assert str(err).startswith("jurisdictions.*.researcher_share: must sum to 1")
    assert "1.1" in str(err)


def test_lab_with_unknown_jurisdiction():
    err = config_error(BASELINE, assignments=["labs.NewLab.jurisdiction=XX"])
    message = str(err)
    assert message.startswith("labs.NewLab.jurisdiction: must be one of")
    assert "XX" in message and "US" in message


def test_new_lab_needs_a_jurisdiction():
    err = config_error(BASELINE, assignments=["labs.NewLab.cash_billions=3"])
    assert str(err) == "labs.NewLab.jurisdiction: is required"


def test_policy_naming_unknown_jurisdiction():
    err = config_error(BASELINE, assignments=["policy.export_controls.targets=[XX]"])
    assert str(err).startswith("policy.export_controls.targets: ")
    assert "XX" in str(err)


def test_researchers_in_a_jurisdiction_without_labs(tmp_path: Path):
    err = config_error(BASELINE, assignments=["labs.Mistral.talent_weight=0"])
    assert str(err).startswith("jurisdictions.EU.researcher_share: must be 0")


def test_validate_config_errors_are_one_line():
    for data in (
        {"simulation": {"steps": "x"}},
        {"bogus": 1},
        {"labs": {}},
        {"market": {"closed": [["US"]]}},
    ):
        with pytest.raises(ConfigError) as info:
            validate_config(data)
        assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- defaults, dumps


def test_schema_defaults_are_a_valid_small_world():
    cfg = Config()
    assert validate_config(config_to_dict(cfg)) == cfg
    assert len(cfg.labs) == 2


def test_no_scenario_means_the_calibrated_baseline(baseline: Config):
    assert load_config() == baseline
    assert load_config(None) == baseline
    assert load_config("baseline") == baseline
    assert DEFAULT_SCENARIO.resolve() == BASELINE.resolve()


def test_overrides_without_a_file_merge_into_the_baseline(baseline: Config):
    cfg = load_config(
        overrides={"jurisdictions.US.users_millions": 1, "labs.NewLab.jurisdiction": "US"}
    )
    assert cfg.jurisdictions["US"].users_millions == 1
    assert set(baseline.labs) < set(cfg.labs)
    assert cfg.jurisdictions["CN"] == baseline.jurisdictions["CN"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_dump_config_round_trips(tmp_path: Path, path: Path):
    cfg = load_config(
        path,
        assignments=[
            "policy.export_controls.capacity_cap_h100e=50000",
            "labs.NewLab.jurisdiction=ROW",
        ],
    )
    text = dump_config(cfg)
    assert isinstance(yaml.safe_load(text), dict)
    dumped = write(tmp_path / "dumped.yaml", text)
    again = load_config(dumped)
    assert again == cfg
    assert dump_config(again) == text


# --------------------------------------------------------------------------- former constants


def test_former_constants_have_their_old_values(baseline: Config):
    for cfg in (baseline, Config()):
        assert cfg.jurisdictions["US"].foreign_born_share == 0.35
        assert all(
            j.foreign_born_share == 0.08 for code, j in cfg.jurisdictions.items() if code != "US"
        )
        assert cfg.capital.investor_size_shape == 1.5
        assert cfg.capital.preference_dispersion == 0.3
        assert cfg.capital.revenue_history_months == 6
        assert cfg.talent.pay_finance_elasticity == 0.2
        assert cfg.talent.pay_finance_floor == 0.67
        assert cfg.talent.pay_finance_cap == 1.5
        assert cfg.policy.export_controls.issuer == "US"
        assert cfg.policy.adaptive.government == "US"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("jurisdictions.CN.foreign_born_share=1.2", "must be <= 1"),
        ("capital.investor_size_shape=0", "must be > 0"),
        ("capital.preference_dispersion=-0.1", "must be >= 0"),
        ("capital.revenue_history_months=1", "must be >= 2"),
        ("talent.pay_finance_floor=0", "must be > 0"),
        ("talent.pay_finance_cap=0.9", "must be >= 1"),
        ("talent.pay_finance_elasticity=4", "must be <= 3"),
    ],
)
def test_former_constants_are_bounded(assignment: str, message: str):
    err = config_error(BASELINE, assignments=[assignment])
    assert str(err).startswith(f"{assignment.split('=')[0]}: {message}")


@pytest.mark.parametrize("key", ["policy.export_controls.issuer", "policy.adaptive.government"])
def test_issuing_government_must_be_a_known_jurisdiction(key: str):
    err = config_error(BASELINE, assignments=[f"{key}=XX"])
    assert str(err).startswith(f"{key}: names unknown jurisdiction(s) ['XX']")
    assert load_config(BASELINE, assignments=[f"{key}=CN"])


# --------------------------------------------------------------------------- shipped scenarios


def test_shipped_scenarios_are_the_configs_folder():
    assert SCENARIO_DIR.resolve() == (ROOT / "configs").resolve()
    assert shipped_scenarios() == [p.stem for p in CONFIGS]


@pytest.mark.parametrize("name", [p.stem for p in CONFIGS])
def test_scenario_path_resolves_shipped_names(name: str):
    shipped = SCENARIO_DIR / f"{name}.yaml"
    assert scenario_path(name) == shipped
    assert scenario_path(f"{name}.yaml") == shipped
    assert load_config(name) == load_config(ROOT / "configs" / f"{name}.yaml")


def test_existing_path_wins_over_a_shipped_name(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "baseline.yaml", "extends: baseline\nname: local\nresearch: {noise: 0.1}\n")
    assert scenario_path("baseline.yaml") == Path("baseline.yaml")
    cfg = load_config("baseline.yaml")
    assert cfg.name == "local" and cfg.research.noise == 0.1
    assert cfg.labs == load_config("baseline").labs  # the bare name is still the shipped one
    assert scenario_path(tmp_path / "missing.yaml") == tmp_path / "missing.yaml"


def test_unknown_bare_name_lists_the_shipped_scenarios():
    err = config_error("no_such_scenario")
    assert str(err).startswith("no_such_scenario: file not found")
    assert "baseline" in str(err)


def test_extends_a_shipped_scenario_by_name(tmp_path: Path, baseline: Config):
    child = write(tmp_path / "mine.yaml", "extends: trusted_release\nresearch: {noise: 0.2}\n")
    cfg = load_config(child)
    assert cfg.policy.trusted_release.enabled
    assert cfg.research.noise == 0.2
    assert cfg.labs == baseline.labs
    missing = write(tmp_path / "bad.yaml", "extends: nowhere\n")
    assert "not found" in str(config_error(missing))


@pytest.mark.slow
def test_wheel_ships_the_scenarios(tmp_path: Path):
    """A non-editable install gets configs/*.yaml as agentsim/scenarios/ (builds a wheel)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("agentsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in CONFIGS:
        assert f"agentsim/scenarios/{path.name}" in names
    assert "agentsim/scenarios/__init__.py" in names
    assert not any(name.startswith("configs/") for name in names)


# --------------------------------------------------------------------------- levers and specs


def test_levers_are_the_model_keywords_and_valid_paths():
    from agentsim import model

    assert list(LEVERS) == [
        "trusted_release",
        "trusted_fraction",
        "restricted_months",
        "compliance_delay_weeks",
        "export_controls",
        "export_price_multiplier",
        "flywheel_strength",
        "n_researchers",
    ]
    assert model.LEVERS is LEVERS  # one home
    for path in LEVERS.values():
        assert parameter_spec(path).type in (bool, int, float)
    built = model.AIRaceModel(
        load_config(assignments=["talent.n_researchers=300"]),
        trusted_release=True,
        trusted_fraction=0.02,
        flywheel_strength=0.0,
    )
    assert built.config.policy.trusted_release.enabled
    assert built.config.policy.trusted_release.trusted_fraction == 0.02
    assert built.config.flywheel.strength == 0.0
    with pytest.raises(TypeError, match="unknown lever"):
        model.AIRaceModel(trusted_fracton=0.02)


def test_parameter_spec_reads_the_schema():
    spec = parameter_spec("policy.trusted_release.trusted_fraction")
    assert spec.type is float and spec.default == 0.01
    assert (spec.lower, spec.lower_inclusive, spec.upper, spec.upper_inclusive) == (
        0,
        False,
        1,
        True,
    )
    assert spec.unit == "-" and "trusted" in spec.description
    assert spec.allows(1) and spec.allows(0.5) and not spec.allows(0) and not spec.allows(1.01)
    steps = parameter_spec("talent.n_researchers")
    assert steps.type is int and steps.unit == "agents" and steps.lower == 1
    assert parameter_spec("compute.price_decline_per_year").upper_inclusive is False
    code = parameter_spec("jurisdictions.XX.foreign_born_share")
    assert code.default == 0.08 and code.upper == 1
    optional = parameter_spec("policy.adaptive.repeal_trusted_release_after_months_behind")
    assert optional.type is int and optional.nullable and optional.upper is None
    assert parameter_spec("policy.trusted_release.enabled").type is bool
    assert parameter_spec("labs.X.jurisdiction").type is str


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("policy", "is a section, not a parameter"),
        ("labs.X", "is a section, not a parameter"),
        ("flywheel.strenght", "unknown key (did you mean 'strength'?)"),
        ("simulation.steps.x", "is a value, not a section"),
    ],
)
def test_parameter_spec_of_a_non_parameter(path: str, rule: str):
    with pytest.raises(ConfigError) as info:
        parameter_spec(path)
    assert rule in str(info.value)


def test_parameter_spec_is_frozen():
    import dataclasses

    spec = parameter_spec("flywheel.strength")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.default = 1.0  # type: ignore[misc]
