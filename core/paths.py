"""Where the project lives on disk, so no default path depends on the working directory."""

from __future__ import annotations

from pathlib import Path

__all__ = ["project_root", "shown"]


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
