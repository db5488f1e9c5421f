"""The docs a person follows stay true: the set-up commands and the configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from src.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _setup_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert block, "README has no set-up block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_front_matter_title_and_exactly_two_setup_commands():
    assert README.startswith("---\n")
    after_front = README.split("---", 2)[2].lstrip()
    assert after_front.startswith("# Olympus")
    commands = _setup_commands()
    assert len(commands) == 2
    # the set-up block comes right after the title
    assert after_front.index("```bash") < after_front.index("\n## ")


def test_ci_runs_the_readme_test_command():
    test_command = _setup_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci


def test_every_setting_is_in_the_configuration_table():
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = list(alias.choices) if alias else [f"OLYMPUS_{name.upper()}"]
        if not any(f"`{n}`" in README for n in names):
            missing.append(names[0])
    assert not missing, f"README's configuration table lacks {missing}"
