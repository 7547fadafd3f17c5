"""Exercise checks called from the notebooks: ``checks.softmax(my_softmax)``.

Each check compares the reader's function with the package's reference on seeded
cases and prints ``PASSED name: n/n cases`` or raises an ``AssertionError`` with a
hint. Each part of the book adds its checks in a module of its own and re-exports them
here. Book: ch00 "How to use this book".
"""

from mvk_tutorial.checks.attention import causal_mask, merge_heads, padding_mask, patchify, sdpa, split_heads
from mvk_tutorial.checks.basics import softmax
from mvk_tutorial.checks.core import Case, case, check_function
from mvk_tutorial.checks.deaot import window_attention
from mvk_tutorial.checks.deaot_train import gated_propagation, id_tokens
from mvk_tutorial.checks.mvk import fixed_rate, word_share
from mvk_tutorial.checks.vos import boundary_map, iou
from mvk_tutorial.checks.retrieval import cosine_ranking, rank_without_sorting
from mvk_tutorial.checks.attention_modules import cross_attention, vit_block
from mvk_tutorial.checks.kis_video import video_rank
from mvk_tutorial.checks.vos_stats import jf_table
from mvk_tutorial.checks.variants import bilinear_sample, shift_mask, window_partition
from mvk_tutorial.checks.slide import local_attention_unfold, merge_depthwise
from mvk_tutorial.checks.avit import halting_recursion
from mvk_tutorial.checks.san import sos_attention_mask

__all__ = ["Case", "case", "check_function", "softmax",
           "causal_mask", "merge_heads", "padding_mask", "patchify", "sdpa", "split_heads",
           "boundary_map", "iou",
           "cosine_ranking", "rank_without_sorting",
           "fixed_rate", "word_share",
           "window_attention", "gated_propagation", "id_tokens",
           "cross_attention", "vit_block", "jf_table", "video_rank",
           "bilinear_sample", "shift_mask", "window_partition",
           "local_attention_unfold", "merge_depthwise", "halting_recursion",
           "sos_attention_mask"]
