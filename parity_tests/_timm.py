"""timm's own scheduler code, without ``import timm`` (whose models need torchvision).

``import timm`` runs ``timm/__init__.py``, which imports its models, which import torchvision:
on a machine whose only torchvision wheel is a CUDA build (which does not load against the CPU
torch) that fails, though ``timm/scheduler/*.py`` needs only torch. So the installed package's
directory is imported as a bare namespace: a module ``timm`` whose ``__path__`` is the installed
directory and whose ``__init__.py`` is never executed (``importlib.machinery.ModuleSpec`` with
``submodule_search_locations``), and the same for ``timm.scheduler`` (whose ``__init__`` imports
the scheduler factory); then the leaf modules ``timm.scheduler.scheduler`` and
``timm.scheduler.cosine_lr`` are imported from the files timm installed, unchanged. The names are
in ``sys.modules`` only while they import (a real ``import timm`` later is not shadowed by the
bare package), and the classes keep timm's module names (``timm.scheduler.cosine_lr``), as
``clr_spec.from_timm`` reads them.

``cosine_lr()`` is the module, or None where timm (or torch) is not installed: ``REASON`` says why
(tests skip with it). dev.sh installs timm without its dependencies (``pip install --no-deps timm``).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Optional

_MODULE: Optional[types.ModuleType] = None
REASON = ""


def _bare_package(name: str, path: list) -> types.ModuleType:
    """A package module ``name`` searching ``path`` for its submodules, its ``__init__`` not run."""
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = list(path)
    module = importlib.util.module_from_spec(spec)
    module.__path__ = list(path)
    return module


def _load() -> tuple[Optional[types.ModuleType], str]:
    if importlib.util.find_spec("torch") is None:
        return None, "timm's schedulers need torch: pip install 'clr-spec[torch]'"
    found = importlib.util.find_spec("timm")  # finds the package without importing it
    if found is None or not found.submodule_search_locations:
        return None, "needs timm (pip install --no-deps timm: its scheduler code needs only torch)"
    root = list(found.submodule_search_locations)
    names = ("timm", "timm.scheduler", "timm.scheduler.scheduler", "timm.scheduler.cosine_lr")
    saved = {name: sys.modules[name] for name in names if name in sys.modules}
    if "timm.scheduler.cosine_lr" in saved:  # timm imported for real (torchvision present): use it
        return saved["timm.scheduler.cosine_lr"], ""
    try:
        sys.modules["timm"] = _bare_package("timm", root)
        sys.modules["timm.scheduler"] = _bare_package("timm.scheduler", [f"{p}/scheduler" for p in root])
        module = importlib.import_module("timm.scheduler.cosine_lr")
    except Exception as err:  # noqa: BLE001 - the reason the tests skip
        return None, f"timm's scheduler code did not import ({type(err).__name__}: {err})"
    finally:
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return module, ""


def cosine_lr() -> Optional[types.ModuleType]:
    """timm's ``timm.scheduler.cosine_lr`` module (loaded once), or None (``REASON`` says why)."""
    global _MODULE, REASON
    if _MODULE is None and not REASON:
        _MODULE, REASON = _load()
    return _MODULE


def version() -> str:
    """The installed timm's version (from its metadata; no import)."""
    from importlib import metadata

    return metadata.version("timm")
