"""AOT (Associating Objects with Transformers), the baseline DeAOT improves on.

Book: ch08, section "AOT, the baseline".
"""

from mvk_tutorial.vos.aot.configs import AOT_CONFIGS, AOTConfig, get_aot_config
from mvk_tutorial.vos.aot.model import AOT, build_aot

__all__ = ["AOT", "AOTConfig", "AOT_CONFIGS", "build_aot", "get_aot_config"]
