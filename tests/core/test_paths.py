"""Default paths of every CLI hang off the project root, never the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.paths import project_root, shown


def test_project_root_is_the_repository(repo_root):
    assert project_root() == repo_root
    assert (project_root() / "core" / "paths.py").is_file()


def test_shown_is_relative_inside_and_unchanged_outside(repo_root, tmp_path):
    assert shown(repo_root / "models" / "manifest.json") == "models/manifest.json"
    assert shown(tmp_path / "x") == str(tmp_path / "x")


TRAINING_ONLY = ("tensorflow", "keras", "sklearn", "matplotlib", "jax")  # what a device-only environment lacks


def _parsers():
    from deploy.bundle import parse_args as bundle_args
    from deploy.deploy import parse_args as deploy_args

    yield "bundle", vars(bundle_args([]))
    yield "deploy", vars(deploy_args([]))
    try:
        from convert.__main__ import build_parser as convert_parser
        from train.__main__ import build_parser as train_parser
        from train.results import build_parser as results_parser
        from train.study import build_parser as study_parser
    except ModuleNotFoundError as exc:  # the training side is not installed in a device-only environment ...
        if exc.name not in TRAINING_ONLY:  # ... but a broken import of the project's own code is a failure
            raise
        return
    yield "train", vars(train_parser().parse_args(["--data", "x"]))
    yield "study", vars(study_parser().parse_args(["--data", "x"]))
    yield "results", vars(results_parser().parse_args([]))
    yield "convert", vars(convert_parser().parse_args([]))


@pytest.mark.parametrize("name,args", list(_parsers()), ids=lambda v: v if isinstance(v, str) else "")
def test_default_paths_are_absolute_under_the_project(name, args, repo_root, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    defaults = {k: v for k, v in args.items() if isinstance(v, Path) and k not in ("data",)}
    assert defaults, f"{name}: no path defaults found"
    for key, value in defaults.items():
        inside = value == repo_root or repo_root in value.parents
        assert value.is_absolute() and inside, f"{name} --{key} default {value} is cwd-relative"
