"""AOT (Associating Objects with Transformers), the baseline DeAOT improves on.

Names are imported on first use (:mod:`mvk_tutorial.utils.lazy`), so that the ``mvk``
command can list the AOT configurations without importing torch.

Book: ch08, section "AOT, the baseline".
"""

from mvk_tutorial.utils.lazy import lazy_exports

__all__ = ["AOT", "AOTConfig", "AOT_CONFIGS", "build_aot", "get_aot_config"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AOT_CONFIGS": "mvk_tutorial.vos.aot.configs",
        "AOTConfig": "mvk_tutorial.vos.aot.configs",
        "get_aot_config": "mvk_tutorial.vos.aot.configs",
        "AOT": "mvk_tutorial.vos.aot.model",
        "build_aot": "mvk_tutorial.vos.aot.model",
    },
)
