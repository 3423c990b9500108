"""The shipped scenarios, installed as the package ``agentsim.scenarios``.

This folder holds the scenario YAML files. ``pyproject.toml`` maps the package
``agentsim.scenarios`` to it, so an installed agentsim finds the files as package data
(:data:`agentsim.scenario_io.DEFAULT_SCENARIO`, :func:`agentsim.scenario_io.scenario_path`).
"""
