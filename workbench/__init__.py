"""research-workbench: several language models side by side, recorded, audited."""

from __future__ import annotations

__version__ = "0.1.0"
