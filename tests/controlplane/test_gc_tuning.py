"""The served control plane's garbage collector: start-up objects frozen, young passes less often."""

from __future__ import annotations

import gc

from controlplane.cli import GC_THRESHOLDS, tune_gc


def test_tune_gc_freezes_what_is_loaded_and_raises_the_thresholds() -> None:
    thresholds = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
