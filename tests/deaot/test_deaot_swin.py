"""Swin-B backbone blocks against torchvision's independent Swin implementation."""

import pytest
import torch
from torchvision.models.swin_transformer import PatchMerging as TVPatchMerging
from torchvision.models.swin_transformer import SwinTransformerBlock as TVBlock

from mvk_tutorial.vos.deaot.swin import PatchMerging, SwinTransformerBlock, shift_mask


def _copy_block(ours: SwinTransformerBlock, tv: TVBlock) -> None:
    sd = ours.state_dict()
    mapped = {
        k.replace("mlp.fc1", "mlp.0").replace("mlp.fc2", "mlp.3"): v
        for k, v in sd.items()
        if "relative_position_index" not in k
    }
    missing, unexpected = tv.load_state_dict(mapped, strict=False)
    assert not unexpected and all("relative_position_index" in k for k in missing)


@pytest.mark.parametrize("H,W,shift", [(14, 14, 0), (14, 21, 3), (13, 17, 3)])
def test_swin_block_matches_torchvision(H, W, shift):
    torch.manual_seed(0)
    ours = SwinTransformerBlock(32, 4, 7, shift).eval()
    with torch.no_grad():
        ours.attn.relative_position_bias_table.normal_(0, 0.5)
    tv = TVBlock(32, 4, [7, 7], [shift, shift], stochastic_depth_prob=0.0).eval()
    _copy_block(ours, tv)
    x = torch.randn(2, H, W, 32)
    Hp, Wp = -(-H // 7) * 7, -(-W // 7) * 7
    mask = shift_mask(Hp, Wp, 7, 3, x.device)
    with torch.no_grad():
        out = ours(x.reshape(2, H * W, 32), H, W, mask).view(2, H, W, 32)
        torch.testing.assert_close(out, tv(x), atol=1e-5, rtol=1e-5)


def test_patch_merging_matches_torchvision():
    torch.manual_seed(0)
    ours = PatchMerging(16)
    tv = TVPatchMerging(16)
    tv.load_state_dict(ours.state_dict())
    x = torch.randn(1, 9, 11, 16)  # odd sides: zero padding
    with torch.no_grad():
        out = ours(x.reshape(1, 99, 16), 9, 11)
        torch.testing.assert_close(out, tv(x).reshape(1, -1, 32), atol=1e-6, rtol=1e-6)
