"""Scenario configuration: shipped files, ``extends:``, overrides and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from agentsim.config import LEVERS, Config, ConfigError, parameter_spec
from agentsim.scenario_io import (
    DEFAULT_SCENARIO,
    REMOVE,
    SCENARIO_DIR,
    Replace,
    apply_overrides,
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
    cfg = load_config(BASELINE, assignments=["capital.capital_billions=!replace {US: 100, CN: 10}"])
    assert cfg.capital.capital_billions == {"US": 100.0, "CN": 10.0}
    same = load_config(
        BASELINE, overrides={"capital.capital_billions": Replace({"US": 100, "CN": 10})}
    )
    assert same == cfg


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
        ("simulation.start=2026-13", "simulation.start", ["must be a month as YYYY-MM"]),
        ("labs.NewLab.jurisdiction=eu", "labs.NewLab.jurisdiction", ["must be a code of 2"]),
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
        ("compute.depreciation_per_year=1", "compute.depreciation_per_year", "< 1"),
        ("compute.price_decline_per_year=0.995", "compute.price_decline_per_year", "<= 0.99"),
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
        ("capital.investor_size_shape=0", "must be >= 0.1"),
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
    """A non-editable install gets configs/*.yaml as agentsim/scenarios/ and the app's page
    templates (builds a wheel)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("agentsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in CONFIGS:
        assert f"agentsim/scenarios/{path.name}" in names
    for folder in ("uncertainty", "targets"):  # the shipped specs and back-test targets
        shipped = sorted((ROOT / "configs" / folder).glob("*.yaml"))
        assert shipped
        for path in shipped:
            assert f"agentsim/scenarios/{folder}/{path.name}" in names
    assert "agentsim/scenarios/__init__.py" in names
    assert not any(name.startswith("configs/") for name in names)
    templates = sorted((ROOT / "agentsim").glob("*.vue"))  # the app's page templates
    assert templates
    for path in templates:
        assert f"agentsim/{path.name}" in names

    # installed from the wheel (not editable) in a fresh environment, away from the checkout:
    # the dependencies come from this environment's site-packages through a path file, which
    # does not run this environment's editable-install hook, so agentsim is the wheel's copy
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dependencies = sysconfig.get_paths()["purelib"]
    (Path(site) / "dependencies.pth").write_text(dependencies + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(fresh / "bin" / "agentsim"), "run", "baseline", "--out", "baseline_run"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "baseline_run" / "summary.json").is_file()
    code = (
        "import agentsim, math; s = agentsim.simulate(seed=1, **{'simulation.steps': 12}); "
        "print(agentsim.__file__); print(math.isfinite(s['final_us_user_share']))"
    )
    shown = subprocess.run(
        [str(python), "-c", code], cwd=elsewhere, capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown[0].startswith(site) and shown[1] == "True"


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
    assert parameter_spec("compute.depreciation_per_year").upper_inclusive is False
    code = parameter_spec("jurisdictions.XX.foreign_born_share")
    assert code.default == 0.08 and code.upper == 1
    optional = parameter_spec("policy.adaptive.repeal_trusted_release_after_months_behind")
    assert optional.type is int and optional.nullable and optional.upper == 600
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


# --------------------------------------------------------------------------- reading scalars
# Files, extends chains, --set values and Python overrides are read as YAML 1.2 and validated
# strictly: a scalar means what a reader of the file thinks, or it is refused.

SHIPPED_BEFORE = ROOT / "tests" / "golden" / "shipped_configs.json"


@pytest.mark.parametrize("name", [p.stem for p in CONFIGS])
def test_shipped_scenarios_resolve_exactly_as_before(name: str):
    """The YAML 1.2 reader and strict numbers change no shipped scenario, value or type."""
    import json

    before = json.loads(SHIPPED_BEFORE.read_text(encoding="utf-8"))[name]
    now = config_to_dict(load_config(name))
    assert json.dumps(now, sort_keys=True) == json.dumps(before, sort_keys=True)


def child(tmp_path: Path, body: str, parent: Path = BASELINE) -> Path:
    return write(tmp_path / "child.yaml", f"extends: {parent}\n{body}")


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            "policy:\n  export_controls: {enabled: true, capacity_cap_h100e: no}\n",
            "policy.export_controls.capacity_cap_h100e",
        ),
        (
            "policy:\n  trusted_release: {restricted_months: no}\n",
            "policy.trusted_release.restricted_months",
        ),
        ("simulation: {steps: yes}\n", "simulation.steps"),
        ("research: {noise: off}\n", "research.noise"),
        ("policy:\n  trusted_release: {enabled: yes}\n", "policy.trusted_release.enabled"),
        ("policy:\n  channels: {flywheel: off}\n", "policy.channels.flywheel"),
        ("labs:\n  OpenAI: {open_weights: on}\n", "labs.OpenAI.open_weights"),
    ],
)
def test_yes_no_on_off_are_text_and_never_a_number_or_a_switch(tmp_path: Path, body, key):
    err = config_error(child(tmp_path, body))
    assert str(err).startswith(f"{key}: must be ")
    assert "(got '" in str(err)  # read as text, so refused where a number or a switch goes


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("policy.export_controls.capacity_cap_h100e", "no"),
        ("policy.trusted_release.restricted_months", "no"),
        ("simulation.steps", "yes"),
        ("policy.trusted_release.enabled", "on"),
    ],
)
def test_yes_no_in_set_is_refused(key: str, value: str):
    err = config_error(BASELINE, assignments=[f"{key}={value}"])
    assert str(err).startswith(f"{key}: must be ")
    assert f"(got {value!r})" in str(err)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("research.noise", True, "a number, not a boolean (got true)"),
        ("simulation.steps", True, "an integer, not a boolean (got true)"),
        ("policy.export_controls.capacity_cap_h100e", False, "a number, not a boolean"),
        ("capital.capital_billions.US", True, "a number, not a boolean"),
        ("policy.trusted_release.enabled", 1, "a boolean, true or false (got 1)"),
        ("policy.trusted_release.enabled", "true", "a boolean"),
        ("research.noise", "0.1", "a number (got '0.1')"),
        ("simulation.steps", 12.0, "an integer (got 12.0)"),
        ("name", 2026, "text (got 2026)"),
    ],
)
def test_booleans_numbers_and_text_never_stand_in_for_each_other(key: str, value, words: str):
    err = config_error(BASELINE, overrides={key: value})
    assert str(err) == f"{key}: must be {words}" or str(err).startswith(f"{key}: must be {words}")


def test_a_float_parameter_takes_an_int():
    cfg = load_config(BASELINE, overrides={"research.noise": 1, "labs.OpenAI.cash_billions": 7})
    assert cfg.research.noise == 1.0 and isinstance(cfg.research.noise, float)
    assert isinstance(cfg.labs["OpenAI"].cash_billions, float)


def test_levers_are_read_strictly():
    from agentsim.model import AIRaceModel

    small = load_config(assignments=["talent.n_researchers=200"])
    with pytest.raises(
        ConfigError, match=r"^policy.trusted_release.trusted_fraction: must be a number, not"
    ):
        AIRaceModel(small, trusted_fraction=True)
    with pytest.raises(ConfigError, match=r"^policy.trusted_release.enabled: must be a boolean"):
        AIRaceModel(small, trusted_release=1)


def test_numpy_scalars_count_as_the_python_scalars_they_hold():
    np = pytest.importorskip("numpy")
    cfg = load_config(
        BASELINE,
        overrides={
            "talent.n_researchers": np.int64(300),
            "research.noise": np.float64(0.2),
            "policy.trusted_release.enabled": np.bool_(True),
        },
    )
    assert cfg.talent.n_researchers == 300 and type(cfg.talent.n_researchers) is int
    assert cfg.policy.trusted_release.enabled is True
    err = config_error(BASELINE, overrides={"research.noise": np.bool_(True)})
    assert str(err).startswith("research.noise: must be a number, not a boolean")


@pytest.mark.parametrize(
    ("written", "value"), [("036", 36), ("012", 12), ("08", 8), ("0012", 12), ("0o12", 10)]
)
def test_zero_padded_numbers_are_decimal(tmp_path: Path, written: str, value: int):
    cfg = load_config(BASELINE, assignments=[f"simulation.steps={written}"])
    assert cfg.simulation.steps == value
    in_file = child(tmp_path, f"policy:\n  trusted_release: {{restricted_months: {written}}}\n")
    assert load_config(in_file).policy.trusted_release.restricted_months == value


def test_zero_padded_grid_values_are_decimal():
    from agentsim.scenario_io import parse_grid

    grid = parse_grid(["simulation.steps=036,012,08", "research.noise=0.10,1e-1"])
    assert grid == {"simulation.steps": [36, 12, 8], "research.noise": [0.1, 0.1]}


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN"])
def test_infinity_and_nan_are_refused(value: str):
    for key in ("research.reference_human_capital", "capital.revenue_growth_weight"):
        err = config_error(BASELINE, assignments=[f"{key}={value}"])
        assert str(err).startswith(f"{key}: must be ")


def test_jurisdiction_no_is_norway_not_false():
    cfg = load_config(
        BASELINE,
        assignments=[
            "jurisdictions.NO={researcher_share: 0}",
            "labs.Aker={jurisdiction: NO, talent_weight: 0}",
            "capital.capital_billions.NO=5",
        ],
    )
    assert "NO" in cfg.jurisdictions and cfg.labs["Aker"].jurisdiction == "NO"
    assert cfg.capital.capital_billions["NO"] == 5


def test_dates_are_refused_where_a_month_goes(tmp_path: Path):
    err = config_error(child(tmp_path, "simulation: {start: 2026-01-15}\n"))
    assert str(err) == "simulation.start: must be text; YAML reads 2026-01-15 as a date (quote it)"
    assert load_config(child(tmp_path, "simulation: {start: 2027-03}\n")).simulation.start == (
        "2027-03"
    )


@pytest.mark.parametrize(
    ("body", "key", "line", "first"),
    [
        (
            "policy:\n  trusted_release: {enabled: true}\nname: x\npolicy:\n  adaptive: {}\n",
            "policy",
            4,
            1,
        ),
        ("research:\n  noise: 0.1\n  leak_probability: 0.2\n  noise: 0.3\n", "noise", 4, 2),
        ("labs:\n  OpenAI: {cash_billions: 1}\n  OpenAI: {cash_billions: 2}\n", "OpenAI", 3, 2),
        ("labs:\n  Meta: {cash_billions: 1, cash_billions: 2}\n", "cash_billions", 2, 2),
    ],
)
def test_duplicate_keys_are_refused_naming_key_and_line(tmp_path: Path, body, key, line, first):
    path = write(tmp_path / "dup.yaml", body)
    err = config_error(path)
    assert str(err) == f"{path}: duplicate key {key!r} (first at line {first}) at line {line}"
    # in a parent of an extends chain too
    err = config_error(child(tmp_path, "name: c\n", parent=path))
    assert "duplicate key" in str(err) and str(path) in str(err)


def test_duplicate_keys_in_a_set_value_are_refused():
    err = config_error(BASELINE, assignments=["research={noise: 0.1, noise: 0.2}"])
    assert str(err).startswith("research: --set value ")
    assert "duplicate key 'noise'" in str(err)


@pytest.mark.parametrize(
    "assignments",
    [
        ["research.noise=0.1", "research.noise=0.2"],
        ["research.noise=0.1", "research.noise=0.1"],
        ["research={noise: 0.1}", "research.noise=0.2"],
        ["research=!replace {leak_probability: 0.1}", "research.noise=0.2"],
        ["labs.Meta=!remove", "labs.Meta.cash_billions=3"],
    ],
)
def test_a_key_set_twice_is_refused(assignments: list[str]):
    err = config_error(BASELINE, assignments=assignments)
    assert str(err).startswith("--set: ")
    assert "given twice" in str(err)
    assert all(a in str(err) for a in assignments)


def test_distinct_keys_of_one_mapping_may_be_set_separately():
    cfg = load_config(BASELINE, assignments=["labs.X={jurisdiction: EU}", "labs.X.cash_billions=3"])
    assert cfg.labs["X"].jurisdiction == "EU" and cfg.labs["X"].cash_billions == 3


def test_a_grid_key_given_twice_is_refused():
    from agentsim.scenario_io import parse_grid

    for expressions in (
        ["research.noise=0.1,0.2", "research.noise=0.3"],
        ["research={noise: 0.1},{leak_probability: 0.1}", "research.noise=0.2"],
    ):
        with pytest.raises(ConfigError) as info:
            parse_grid(expressions)
        assert str(info.value).startswith("--grid: research.noise is given twice")


@pytest.mark.parametrize(
    "name", ["no", "yes", "1e3", "0o17", "012", "2026-01-05", "null", "true", "~", "1_000"]
)
def test_dump_config_quotes_text_that_looks_like_something_else(tmp_path: Path, name: str):
    cfg = load_config(
        BASELINE,
        overrides={"name": name, "labs.OpenAI": REMOVE, f"labs.{name}": {"jurisdiction": "US"}},
    )
    text = dump_config(cfg)
    assert load_config(write(tmp_path / "d.yaml", text)) == cfg
    assert yaml.safe_load(text)["name"] == name  # a YAML 1.1 reader reads it the same


# --------------------------------------------------------------------------- one merge rule


@pytest.fixture(scope="module")
def calibrated() -> Config:
    return load_config(BASELINE)


def test_set_of_a_section_merges_into_it(calibrated: Config):
    """--set 'research={noise: 0.1}' changes the noise and keeps the calibrated rest."""
    cfg = load_config(BASELINE, assignments=["research={noise: 0.1}"])
    assert cfg.research.noise == 0.1
    assert cfg.research.base_rate_ooms_per_month == calibrated.research.base_rate_ooms_per_month
    assert cfg.research.talent_elasticity == calibrated.research.talent_elasticity
    assert cfg.model_copy(update={"research": calibrated.research}) == calibrated
    assert cfg == load_config(BASELINE, assignments=["research.noise=0.1"])


def test_set_of_a_lab_merges_into_it(calibrated: Config):
    cfg = load_config(BASELINE, assignments=["labs.OpenAI={cash_billions: 10}"])
    lab = cfg.labs["OpenAI"]
    assert lab.cash_billions == 10
    assert lab.capacity_h100e == calibrated.labs["OpenAI"].capacity_h100e
    assert lab.funding_to_date_billions == calibrated.labs["OpenAI"].funding_to_date_billions
    assert list(cfg.labs) == list(calibrated.labs)


def test_python_overrides_merge_as_set_does(calibrated: Config):
    merged = load_config(
        BASELINE, overrides={"research": {"noise": 0.1}, "labs": {"OpenAI": {"cash_billions": 10}}}
    )
    assert merged == load_config(
        BASELINE, assignments=["research={noise: 0.1}", "labs.OpenAI={cash_billions: 10}"]
    )
    assert merged.research.talent_elasticity == calibrated.research.talent_elasticity


def test_grid_and_simulate_values_merge(calibrated: Config):
    """plan_sweep and simulate apply their values with apply_overrides: the same rule."""
    from agentsim.scenario_io import apply_overrides

    data = config_to_dict(calibrated)
    point = validate_config(apply_overrides(data, {"research": {"noise": 0.1}}))
    assert point.research.noise == 0.1
    assert point.research.generation_gap_ooms == calibrated.research.generation_gap_ooms
    assert data == config_to_dict(calibrated)  # the base is not changed


def test_a_file_a_set_and_an_override_give_one_config(tmp_path: Path):
    in_file = load_config(
        child(tmp_path, "research: {noise: 0.1}\nlabs: {Meta: {cash_billions: 3}}\n")
    )
    by_set = load_config(
        BASELINE, assignments=["research={noise: 0.1}", "labs={Meta: {cash_billions: 3}}"]
    )
    by_override = load_config(
        BASELINE, overrides={"research": {"noise": 0.1}, "labs.Meta.cash_billions": 3}
    )
    assert in_file.model_copy(update={"name": "baseline"}) == by_set == by_override


def test_remove_a_lab_in_a_file_a_set_and_python(tmp_path: Path, calibrated: Config):
    in_file = load_config(child(tmp_path, "labs:\n  Meta: !remove\n"))
    by_set = load_config(BASELINE, assignments=["labs.Meta=!remove"])
    by_python = load_config(BASELINE, overrides={"labs.Meta": REMOVE})
    assert "Meta" not in by_set.labs
    assert list(by_set.labs) == [name for name in calibrated.labs if name != "Meta"]
    assert in_file.model_copy(update={"name": "baseline"}) == by_set == by_python


def test_remove_a_jurisdiction(calibrated: Config):
    assignments = [
        "jurisdictions.GULF=!remove",
        "labs.TII=!remove",
        "capital.capital_billions.GULF=!remove",
        "jurisdictions.ROW.researcher_share=0.10",
    ]
    cfg = load_config(BASELINE, assignments=assignments)
    assert set(cfg.jurisdictions) == set(calibrated.jurisdictions) - {"GULF"}
    assert "GULF" not in cfg.capital.capital_billions


def test_remove_a_parameter_returns_it_to_the_schema_default():
    cfg = load_config(BASELINE, assignments=["research.noise=!remove"])
    assert cfg.research.noise == Config().research.noise


def test_remove_what_is_not_there_is_refused():
    err = config_error(BASELINE, assignments=["labs.Metaa=!remove"])
    assert str(err) == "labs.Metaa: !remove: there is no such key to remove (did you mean 'Meta'?)"
    err = config_error(BASELINE, overrides={"jurisdictions": {"XX": REMOVE}})
    assert str(err).startswith("jurisdictions.XX: !remove: there is no such key")


def test_replace_a_section_in_a_file_a_set_and_python(tmp_path: Path):
    in_file = load_config(child(tmp_path, "research: !replace\n  noise: 0.1\n"))
    by_set = load_config(BASELINE, assignments=["research=!replace {noise: 0.1}"])
    by_python = load_config(BASELINE, overrides={"research": Replace({"noise": 0.1})})
    expected = Config().research.model_copy(update={"noise": 0.1})
    assert by_set.research == expected  # the rest are the schema's defaults
    assert in_file.research == by_set.research == by_python.research


def test_replace_the_labs(calibrated: Config):
    cfg = load_config(
        BASELINE,
        assignments=[
            "labs=!replace {A: {jurisdiction: US}, B: {jurisdiction: CN}}",
            "jurisdictions.EU.researcher_share=0",
            "jurisdictions.GULF.researcher_share=0",
            "jurisdictions.ROW.researcher_share=0",
            "jurisdictions.CN.researcher_share=0.5",
        ],
    )
    assert list(cfg.labs) == ["A", "B"]


def test_markers_only_as_the_value_of_a_key():
    err = config_error(BASELINE, assignments=["policy.trusted_release.jurisdictions=[US, !remove]"])
    assert "!remove only applies as the value of a key" in str(err)
    with pytest.raises(ConfigError, match="only applies as the value of a key"):
        validate_config({"research": REMOVE})
    err = config_error(BASELINE, assignments=["labs.Meta=!remove 3"])
    assert "!remove takes no value" in str(err)


def test_remove_and_replace_are_not_grid_values():
    from agentsim.scenario_io import parse_grid

    with pytest.raises(ConfigError, match="not --grid values"):
        parse_grid(["labs.Meta=!remove"])


def test_remove_survives_pickling():
    import pickle

    assert pickle.loads(pickle.dumps(REMOVE)) is REMOVE
    assert pickle.loads(pickle.dumps(Replace({"a": 1}))) == Replace({"a": 1})


# --------------------------------------------------------------------------- bounds for every step


def numeric_parameters() -> list[str]:
    from agentsim.docgen import parameter_rows

    paths = [row[0].strip("`").replace("<name>", "X") for row in parameter_rows()]
    return [p for p in paths if parameter_spec(p).type in (int, float)]


@pytest.mark.parametrize("path", numeric_parameters())
def test_every_numeric_parameter_has_both_bounds(path: str):
    spec = parameter_spec(path)
    assert spec.lower is not None and spec.upper is not None, path


@pytest.mark.parametrize("start", ["9990-01", "0000-01", "1899-12", "2201-01"])
def test_start_outside_the_calendar_is_refused(start: str):
    err = config_error(BASELINE, assignments=[f"simulation.start={start}"])
    assert str(err).startswith("simulation.start: must be a month from 1900-01 to 2200-12")
    assert start in str(err)


def test_longest_run_from_the_calendar_ends_has_dates_everywhere():
    import matplotlib.dates as mdates

    from agentsim.config import START_YEARS
    from agentsim.observe import month_dates

    for start in (f"{START_YEARS[0]}-01", f"{START_YEARS[1]}-12"):
        assert load_config(BASELINE, assignments=[f"simulation.start={start}"])
        dates = month_dates(start, parameter_spec("simulation.steps").upper)
        assert dates.is_monotonic_increasing and not dates.hasnans
        assert dates.as_unit("ns")[-1].year == dates[-1].year  # fits nanosecond timestamps
        mdates.num2date(mdates.date2num(dates.to_pydatetime()[-1]))


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("a/b", "must not hold / or \\ or control characters"),
        ("a\\b", "must not hold"),
        ("tab\there", "must not hold"),
        ("", "must not be empty"),
        ("x" * 81, "must be at most 80 bytes (got 81 bytes)"),
        ("é" * 41, "must be at most 80 bytes (got 82 bytes)"),
    ],
)
def test_names_that_cannot_name_a_folder_are_refused(name: str, rule: str):
    err = config_error(BASELINE, overrides={"name": name})
    assert str(err).startswith(f"name: {rule}")
    assert load_config(BASELINE, overrides={"name": "run with spaces, ünïcode"})


def test_lab_names_with_a_dot_are_refused():
    err = config_error(BASELINE, overrides={"labs": {"a.b": {"jurisdiction": "US"}}})
    assert str(err).startswith("labs: a lab's name must be non-empty, without '.'")


@pytest.mark.slow
def test_the_model_runs_at_every_bound_of_every_numeric_parameter():
    """Each numeric parameter at its lower and its upper bound (just inside an open one), in a
    world where every rule binds: the run passes its accounting audit, with finite outputs."""
    import math
    import warnings

    from agentsim.run import run

    base = config_to_dict(
        load_config(
            "combined",
            assignments=[
                "talent.n_researchers=300",
                "capital.n_investors=20",
                "simulation.steps=8",
                "relocation.enabled=true",
                "relocation.review_every_months=1",
                "policy.adaptive.repeal_trusted_release_after_months_behind=2",
                "policy.adaptive.tighten_export_controls_below_lead_ooms=1",
                "policy.export_controls.capacity_cap_h100e=50000",
            ],
        )
    )
    ran = 0
    for path in numeric_parameters():
        spec = parameter_spec(
            path.replace(".X.", ".OpenAI." if path.startswith("labs") else ".CN.")
        )
        for end, inclusive, nudge in (
            (spec.lower, spec.lower_inclusive, 1e-6),
            (spec.upper, spec.upper_inclusive, -1e-6),
        ):
            value = end if inclusive else end + nudge * max(1.0, abs(end))
            value = int(value) if spec.type is int else float(value)
            try:
                config = validate_config(apply_overrides(base, {spec.path: value}))
            except ConfigError:
                continue  # refused with a one-line error (e.g. shares that must sum to 1)
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                summary = run(config, seed=1, audit=True).summary
            bad = [k for k, v in summary.items() if isinstance(v, float) and not math.isfinite(v)]
            assert not bad, (spec.path, value, bad)
            ran += 1
    assert ran > 150


def test_investor_sizes_stay_finite_at_the_lowest_shape():
    assert parameter_spec("capital.investor_size_shape").lower == 0.1


def test_remove_and_replace_in_flow_style(tmp_path: Path):
    cfg = load_config(child(tmp_path, "labs: {Meta: !remove, xAI: !remove}\n"))
    assert not {"Meta", "xAI"} & set(cfg.labs)
    cfg = load_config(BASELINE, assignments=["capital={capital_billions: !replace {US: 1, CN: 1}}"])
    assert cfg.capital.capital_billions == {"US": 1.0, "CN": 1.0}


def test_the_user_guide_examples_mean_what_it_says(tmp_path: Path):
    """Every YAML example and --set line of docs/user_guide.md reads and validates."""
    import itertools
    import re
    import shlex

    guide = (ROOT / "docs" / "user_guide.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w*)\n(.*?)```", guide, flags=re.S)
    examples = [body for lang, body in blocks if lang == "yaml"]
    assert len(examples) >= 4
    for i, body in enumerate(examples):
        text = body if "extends:" in body else f"extends: baseline\n{body}"
        assert load_config(write(tmp_path / f"example{i}.yaml", text))
    sets = [
        line
        for lang, body in blocks
        if not lang
        for line in body.splitlines()
        if line.startswith("--set ")
    ]
    assert len(sets) >= 3
    for line in sets:
        words = shlex.split(line.split("#")[0])
        assignments = [w for flag, w in itertools.pairwise(words) if flag == "--set"]
        assert load_config(BASELINE, assignments=assignments), line


def test_an_empty_file_is_not_a_world(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="describes no jurisdictions"):
        load_config(empty)
    partial = tmp_path / "partial.yaml"
    partial.write_text("name: mine\nresearch: {noise: 0.1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="extends: baseline"):
        load_config(partial)
    extending = tmp_path / "extending.yaml"
    extending.write_text("extends: baseline\nresearch: {noise: 0.1}\n", encoding="utf-8")
    assert len(load_config(extending).labs) == len(load_config(None).labs)


def test_start_month_takes_ascii_digits_only():
    for start in ("２０２６-01", "٢٠٢٦-01"):
        with pytest.raises(ConfigError, match=r"simulation\.start"):
            load_config(None, overrides={"simulation.start": start})


def test_every_text_pattern_of_the_schema_has_its_rule_in_words():
    from agentsim.config import PATTERN_RULES

    def patterns(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                yield node["pattern"]
            for value in node.values():
                yield from patterns(value)
        elif isinstance(node, list):
            for value in node:
                yield from patterns(value)

    found = set(patterns(Config.model_json_schema()))
    assert found and found <= set(PATTERN_RULES), found - set(PATTERN_RULES)
