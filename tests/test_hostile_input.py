"""Hostile scenario input: alias bombs, deep nesting, huge values and control characters.

Each is refused quickly with a one-line ConfigError (exit code 2 from the CLI), without
filling memory, without a traceback and without quoting more than a short prefix of what the
reader wrote. Ordinary anchors, aliases and merge keys keep working. Nothing here runs a model.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentsim import scenario_io
from agentsim.cli import app
from agentsim.config import KEY_CHARS, MESSAGE_CHARS, QUOTE_CHARS, ConfigError, clip, quote
from agentsim.scenario_io import (
    MAX_DEPTH,
    MAX_EXTENDS,
    MAX_YAML_NODES,
    load_config,
    parse_grid,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "configs" / "baseline.yaml"
#: Longest error line accepted where a huge value is quoted.
SHORT = 300


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused(*args, **kwargs) -> ConfigError:
    """The ConfigError raised by ``load_config(*args, **kwargs)``, checked to be one line."""
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert len(message) <= MESSAGE_CHARS + 3
    return info.value


def cli_refused(*args: str | Path) -> str:
    """Run the CLI in this process; exit code 2 and one stderr line, ``error: ...``."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[:2000]
    assert lines[0].startswith("error: ")
    return lines[0]


def bomb_text(levels: int = 10, width: int = 10) -> str:
    """The "billion laughs": ``width ** levels`` scalars from a few hundred bytes."""
    lines = [f"a0: &a0 [{','.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join([*lines, "name: bomb", ""])


def nested_sequences(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_mappings(depth: int) -> str:
    """Block mappings nested ``depth`` levels under ``x:``."""
    lines = ["x:"] + [" " * i + f"k{i}:" for i in range(1, depth)] + [" " * depth + "k: 1"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- alias bombs


#: Read a file under an address-space limit of about 1.5 GB; print the error or "loaded".
_BOUNDED = textwrap.dedent(
    """
    import resource, sys
    limit = 1536 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from agentsim.config import ConfigError
    from agentsim.scenario_io import load_config
    try:
        load_config(sys.argv[1])
    except ConfigError as exc:
        print(exc)
        sys.exit(2)
    print("loaded")
    """
)


def run_bounded(path: Path) -> subprocess.CompletedProcess[str]:
    """``load_config(path)`` in a child limited to ~1.5 GB of address space and 120 s."""
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", _BOUNDED, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, **env},
        timeout=120,  # a guard only: the refusal takes well under a second
    )


def test_alias_bomb_is_refused_while_read_within_bounded_memory(tmp_path):
    path = write(tmp_path / "bomb.yaml", bomb_text())
    assert len(path.read_bytes()) < 600
    proc = run_bounded(path)
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    message = proc.stdout.strip()
    assert "\n" not in message and len(message) < SHORT, message
    assert message.startswith(f"{path}: YAML aliases expand to more than {MAX_YAML_NODES} values")
    assert "write the values out" in message and "line 5" in message


def test_alias_bomb_through_the_cli_is_one_line_and_exit_2(tmp_path):
    path = write(tmp_path / "bomb.yaml", bomb_text())
    line = cli_refused("validate", path)
    assert "YAML aliases expand to more than" in line and len(line) < SHORT


def test_alias_bomb_in_a_set_value_is_refused():
    anchors = ", ".join(
        ["&a0 [" + ",".join(["1"] * 10) + "]"]
        + [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    )
    err = refused(BASELINE, assignments=[f"research.noise=[{anchors}]"])
    assert err.key == "research.noise"
    assert "YAML aliases expand to more than" in err.rule and len(str(err)) < SHORT


def test_alias_inside_the_node_it_names_is_refused(tmp_path):
    path = write(tmp_path / "loop.yaml", "extends: baseline\nresearch: &r {noise: *r}\n")
    err = refused(path)
    assert "alias *r is used inside the node it names" in str(err)


def test_a_document_of_too_many_values_is_refused_without_quoting_them(tmp_path, monkeypatch):
    assert MAX_YAML_NODES == 100_000
    monkeypatch.setattr(scenario_io, "MAX_YAML_NODES", 1000)  # reading 100,000 takes seconds
    values = ",".join(["1"] * 1000)
    path = write(tmp_path / "many.yaml", f"extends: baseline\nresearch:\n  noise: [{values}]\n")
    err = refused(path)
    assert "holds more than 1000 values" in str(err) and len(str(err)) < SHORT


# --------------------------------------------------------------------------- deep nesting


def test_deeply_nested_sequences_are_refused(tmp_path):
    path = write(tmp_path / "deep.yaml", f"x: {nested_sequences(20_000)}\n")
    err = refused(path)
    assert str(err) == f"{path}: nested deeper than {MAX_DEPTH} levels (at line 1, column 103)"


def test_deeply_nested_mappings_are_refused(tmp_path):
    path = write(tmp_path / "deep.yaml", nested_mappings(3000))
    err = refused(path)
    assert f"{path}: nested deeper than {MAX_DEPTH} levels" in str(err)


def test_aliases_cannot_stack_nesting_past_the_limit(tmp_path):
    # each anchor adds 60 levels to the one it holds: 20 of them make 1200 levels
    lines = [f"a0: &a0 {nested_sequences(60)}"]
    for i in range(1, 20):
        lines.append(f"a{i}: &a{i} {'[' * 59}*a{i - 1}{']' * 59}")
    err = refused(write(tmp_path / "deep.yaml", "\n".join(lines) + "\n"))
    assert f"nested deeper than {MAX_DEPTH} levels" in str(err)


def test_nesting_at_the_limit_is_read(tmp_path):
    path = write(tmp_path / "ok.yaml", f"extends: baseline\nx: {nested_sequences(MAX_DEPTH - 1)}\n")
    assert "x: unknown key" in str(refused(path))  # read, then refused as an unknown key


@pytest.mark.parametrize(
    "value", [nested_sequences(20_000), "{a: " * 3000 + "}" * 3000], ids=["sequences", "mappings"]
)
def test_deep_nesting_in_a_set_value_is_refused(value):
    err = refused(BASELINE, assignments=[f"research.noise={value}"])
    assert err.key == "research.noise"
    assert err.rule.endswith(f": nested deeper than {MAX_DEPTH} levels")
    assert len(str(err)) < SHORT


def test_deep_nesting_in_a_grid_value_is_refused():
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_grid([f"research.noise=1,{nested_sequences(20_000)}"])


def test_deep_nesting_given_from_python_is_refused():
    deep: dict = {}
    inner = deep
    for _ in range(3000):
        inner["k"] = {}
        inner = inner["k"]
    err = refused(BASELINE, overrides={"research": deep})
    assert f"nested deeper than {MAX_DEPTH} levels" in str(err)
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels"):
        validate_config({"research": deep})


def test_a_long_extends_chain_is_refused(tmp_path):
    write(tmp_path / "f0.yaml", "extends: baseline\n")
    for i in range(1, 2000):
        write(tmp_path / f"f{i}.yaml", f"extends: f{i - 1}.yaml\n")
    err = refused(tmp_path / "f1999.yaml")
    assert f"extends: a chain of more than {MAX_EXTENDS} files" in str(err)
    # f{n} and the n files below it, baseline included, make a chain of n + 2 files
    assert load_config(tmp_path / f"f{MAX_EXTENDS - 2}.yaml").name == "baseline"
    assert "extends: a chain of" in str(refused(tmp_path / f"f{MAX_EXTENDS - 1}.yaml"))


def test_deep_nesting_through_the_cli_is_one_line_and_exit_2(tmp_path):
    path = write(tmp_path / "deep.yaml", nested_mappings(3000))
    assert "nested deeper than" in cli_refused("validate", path)
    line = cli_refused("validate", BASELINE, "--set", f"research.noise={nested_sequences(20_000)}")
    assert "nested deeper than" in line and len(line) < SHORT


# --------------------------------------------------------------------------- huge values


def test_a_huge_value_is_quoted_by_a_short_prefix():
    err = refused(BASELINE, overrides={"research.noise": "9" * 10_000_000 + "x"})
    assert str(err).startswith("research.noise: must be a number (got '999")
    assert len(str(err)) < SHORT


def test_a_huge_value_in_a_file_or_set_value_gives_a_short_line(tmp_path):
    big = "z" * 200_000  # YAML is read at about 2 s a megabyte: big enough, and quick
    path = write(tmp_path / "big.yaml", f"extends: baseline\nresearch:\n  noise: {big}\n")
    assert len(str(refused(path))) < SHORT
    assert len(cli_refused("validate", path)) < SHORT
    assert len(cli_refused("validate", BASELINE, "--set", f"research.noise={big}")) < SHORT
    assert len(cli_refused("validate", BASELINE, "--set", f"research.noise=[{big}")) < SHORT
    assert len(cli_refused("validate", BASELINE, "--set", f"research.noise=0x{'f' * 5000}")) < SHORT


def test_a_huge_unknown_key_or_lab_jurisdiction_is_quoted_by_a_short_prefix():
    big = "k" * 1_000_000
    err = refused(BASELINE, overrides={"research": {big: 1}})
    assert "unknown key" in str(err) and "k" * (QUOTE_CHARS + 1) not in str(err)
    line = cli_refused("validate", BASELINE, "--set", f"research.{big}=1")
    assert "unknown key" in line and "k" * (QUOTE_CHARS + 1) not in line
    labs = {"labs": {"X": {"jurisdiction": "Q" * 1_000_000}}}
    assert len(str(refused(BASELINE, overrides=labs))) < SHORT


@pytest.mark.parametrize(
    "text",
    ["x: 2026-02-31", "x: !!int abc", "x: !!float abc", "x: !!bool maybe", f"x: {'7' * 5000}"],
)
def test_a_scalar_its_tag_cannot_read_is_a_one_line_error(tmp_path, text):
    path = write(tmp_path / "bad.yaml", f"extends: baseline\n{text}\n")
    err = refused(path)
    assert str(err).startswith(f"{path}: malformed YAML at line 2, column 4: cannot read ")
    assert len(str(err)) < SHORT
    assert "cannot read" in cli_refused("validate", BASELINE, "--set", f"research.noise={text[3:]}")


def test_a_file_name_too_long_for_the_system_is_a_one_line_error():
    err = refused("n" * 5000)
    assert str(err) == f"{'n' * KEY_CHARS}...: cannot be read (File name too long)"
    assert "cannot be read" in cli_refused("validate", "n" * 5000)


# --------------------------------------------------------------------------- one line


def test_line_breaks_in_what_the_reader_wrote_stay_escaped(tmp_path):
    path = write(tmp_path / "nl.yaml", 'extends: baseline\nresearch:\n  "no\\nise": 0.1\n')
    err = refused(path)
    assert str(err).startswith("research.no\\nise: unknown key")
    err = refused(BASELINE, assignments=["research.no\nise=1"])
    assert str(err).startswith("research.no\\nise: unknown key")
    err = refused(BASELINE, overrides={"research.noise": "1\n2\r\x1b[31m\u2028"})
    assert str(err) == r"research.noise: must be a number (got '1\n2\r\x1b[31m\u2028')"
    line = cli_refused("validate", BASELINE, "--set", "research.no\nise=1")
    assert line.startswith("error: research.no\\nise: unknown key")
    assert "file not found" in cli_refused("validate", tmp_path / "a\nb.yaml")


def test_config_error_is_one_short_line_whatever_it_is_given():
    err = ConfigError("key\nline", "rule\n" * 100_000)
    assert "\n" not in str(err) and len(str(err)) == MESSAGE_CHARS + 3
    assert err.key == "key\nline"


def test_quote_shows_a_short_prefix_on_one_line():
    assert quote("abc") == "'abc'"
    assert quote(0.25) == "0.25" and quote([1, 2]) == "[1, 2]" and quote({"a": 1}) == "{'a': 1}"
    assert quote("a\nb") == r"'a\nb'"
    long = quote("x" * 10_000_000)
    assert long.startswith("'xxx") and long.endswith("...") and len(long) == 83
    assert quote(10**10_000).startswith("<an integer of about 10001 digits")
    assert len(quote(list(range(10**6)))) <= 83
    assert clip("line\nbreak\u2029") == r"line\nbreak\u2029"


# --------------------------------------------------------------------------- still read


def test_anchors_aliases_and_merge_keys_still_load(tmp_path):
    path = write(
        tmp_path / "anchors.yaml",
        textwrap.dedent(
            """
            extends: baseline
            name: anchored
            research: &research
              noise: &n 0.07
            flywheel:
              strength: *n
            labs:
              Small1: &small
                jurisdiction: US
                cash_billions: 1
                funding_to_date_billions: 1
              Small2:
                <<: *small
                jurisdiction: EU
              Small3:
                <<: *small
                cash_billions: 2
            """
        ),
    )
    config = load_config(path)
    assert config.research.noise == 0.07 and config.flywheel.strength == 0.07
    assert config.labs["Small2"].jurisdiction == "EU"
    assert config.labs["Small2"].cash_billions == 1
    assert config.labs["Small3"].jurisdiction == "US"
    assert config.labs["Small3"].cash_billions == 2


def test_an_anchor_given_again_names_its_latest_node_without_a_warning(tmp_path):
    path = write(
        tmp_path / "again.yaml",
        "extends: baseline\nflywheel: {strength: &n 0.1}\nresearch: {noise: &n 0.2}\n"
        "jurisdictions: {US: {foreign_born_share: *n}}\n",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would print lines beside the one-line error
        config = load_config(path)
    assert config.jurisdictions["US"].foreign_born_share == 0.2


def test_many_ordinary_aliases_still_load(tmp_path):
    pairs = ", ".join(["*pair"] * 500)
    path = write(
        tmp_path / "many.yaml",
        f"extends: baseline\nmarket:\n  closed: [&pair [US, CN], {pairs}]\n",
    )
    assert load_config(path).market.closed == [("US", "CN")] * 501
