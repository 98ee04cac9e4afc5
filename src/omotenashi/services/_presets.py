"""The dataset presets (name -> (module, description)), for commands and option help that list
them: importing this module loads no importer, file reader or data-frame library."""

from __future__ import annotations

from omotenashi.importers.presets import PRESETS

__all__ = ["PRESETS"]
