"""`wiredesk --help` lists every command of the DESIGN.md contract."""

import subprocess
import sys

import pytest

DESIGN_COMMANDS = ["extract", "enrich", "search", "crawl", "serve", "es"]


def run_help(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args, "--help"], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("command", DESIGN_COMMANDS)
def test_help_lists_command(command):
    result = run_help()
    assert result.returncode == 0
    assert command in result.stdout


@pytest.mark.parametrize("command", DESIGN_COMMANDS)
def test_each_command_has_its_own_help(command):
    result = run_help(command)
    assert result.returncode == 0, result.stderr
    assert f"wiredesk {command}" in result.stdout


def test_no_command_prints_usage_and_fails():
    result = subprocess.run([sys.executable, "-m", "pipeline.cli"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "usage: wiredesk" in result.stdout
