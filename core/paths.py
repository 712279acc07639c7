"""Where the project lives on disk, so no default path depends on the working directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["folder_problem", "project_root", "shown"]


def project_root() -> Path:
    """The repository (or deployed bundle) root: the folder that holds ``device/``, whatever the cwd."""
    return Path(__file__).resolve().parent.parent


def shown(path: Path, root: Path | None = None) -> str:
    """``path`` relative to ``root`` (default: the project root) when it lies inside it, else as given.

    For paths written into reports, manifests and the README, so they do not name this machine's folders.
    """
    try:
        return str(Path(path).resolve().relative_to(Path(root or project_root()).resolve()))
    except ValueError:
        return str(path)


def folder_problem(flag: str, folder: Path, purpose: str) -> str | None:
    """Why ``folder`` (given as ``flag``) cannot be created or written (None when it can): the nearest existing
    path above it is a file, or a folder without write permission. For checks before any heavy work."""
    existing = Path(folder)
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        return f"{flag} {folder}: {existing} is a file, expected a folder for {purpose}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} {folder}: folder {existing} is not writable"
    return None
