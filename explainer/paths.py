"""Where the project's folders are, for an editable install run from a checkout."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ANIMATIONS_DIR = PROJECT_ROOT / "animations"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DATA_DIR = PROJECT_ROOT / "data"
BUILD_DIR = PROJECT_ROOT / "build"
