"""Where the project lives on disk, so no default path depends on the working directory."""

from __future__ import annotations

from pathlib import Path

__all__ = ["project_root", "shown"]


def project_root() -> Path:
    """The repository (or deployed bundle) root: the folder that holds ``device/``, whatever the cwd."""
    return Path(__file__).resolve().parent.parent


def shown(path: Path) -> str:
    """``path`` relative to the project root when it lies inside it (for reports and manifests), else as given."""
    try:
        return str(Path(path).resolve().relative_to(project_root()))
    except ValueError:
        return str(path)
