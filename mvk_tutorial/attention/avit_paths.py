"""The two ways to run A-ViT's blocks: masking halted tokens, or gathering live ones.

Both return ``(out, depth, rho, layer_means)``: the ACT-weighted sum of block outputs
(B, N, C), the 1-based halting block (B, N), the ponder cost rho = depth + remainder
(B, N), and one per-block mean halting score for the distributional prior.

Book: ch05, section "Masking vs gathering".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mvk_tutorial.attention.avit_halting import halting_score, halting_step


def early_exit_active(model) -> bool:
    """Whether this forward may stop at the class token: ``model.early_exit`` in eval
    mode (training needs every token's ponder cost, so it always runs them all).

    Book: ch05, section "Stopping at the class token".
    """
    return bool(getattr(model, "early_exit", False)) and not model.training


def _attend(attn, y: Tensor, mask: Tensor | None) -> Tensor:
    """Self-attention of ``attn`` (a ViT ``Attention``) on y (B, L, C), additive or
    boolean key ``mask`` broadcastable to (B, heads, L, L)."""
    B, L, C = y.shape
    qkv = attn.qkv(y).reshape(B, L, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, L, head_dim)
    p = attn.attn_drop.p if attn.training else 0.0
    o = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=p, scale=attn.scale
    )  # (B, heads, L, head_dim)
    return attn.proj_drop(attn.proj(o.transpose(1, 2).reshape(B, L, C)))


def _masked_block(blk, x: Tensor, halted: Tensor) -> Tensor:
    """The official masked block: halted tokens (halted = 1) are zeroed in and after
    both LayerNorms and get -1000 on their attention logits as keys."""
    keep = (1.0 - halted).unsqueeze(-1)  # (B, N, 1)
    mask = (-1000.0 * halted)[:, None, None, :]  # (B, 1, 1, N)
    x = x + _attend(blk.attn, blk.norm1(x * keep) * keep, mask)
    return x + blk.mlp(blk.norm2(x * keep) * keep)


def run_mask(model, x: Tensor):
    """Every token through every block; halted ones masked (the official code)."""
    B, N, C = x.shape
    cfg, last = model.halting, len(model.blocks) - 1
    early = early_exit_active(model)
    c, R = x.new_zeros(B, N), x.new_ones(B, N)
    out, rho = torch.zeros_like(x), x.new_zeros(B, N)
    depth = torch.ones(B, N, dtype=torch.long, device=x.device)
    live, layer_means = torch.ones(B, N, dtype=torch.bool, device=x.device), []
    for i, blk in enumerate(model.blocks):
        halted = (~live).to(x.dtype)  # (B, N), 1 = already halted
        x = x * (1.0 - halted).unsqueeze(-1)  # halted inputs are zeroed
        x = _masked_block(blk, x, halted)  # (B, N, C)
        raw = halting_score(x, cfg.gate_scale, cfg.gate_center)
        if not cfg.halting:
            raw = torch.zeros_like(raw)
        h = torch.ones_like(raw) if i == last else raw
        rho = rho + live.to(x.dtype)
        c_new, R_new, w, reached = halting_step(c, R, h, cfg.eps)
        w = w * live  # halted tokens contribute nothing
        out = out + x * w.unsqueeze(-1)
        rho = rho + torch.where(reached & live, R, torch.zeros_like(R))
        depth = depth + (live & ~reached).long()
        c, R, live = c_new, torch.where(live, R_new, R), live & ~reached
        if early:  # an image whose class token halted is finished (depth: this block)
            gone = live & ~live[:, :1]  # (B, N)
            depth = depth - gone.long()
            live = live & ~gone
        if cfg.official_layer_mean:  # NVlabs/A-ViT#4: [1:] drops sample 0, not CLS
            layer_means.append(raw[1:].mean())
        else:  # mean ACT weight of the patch tokens: a distribution over depth
            layer_means.append(w[:, 1:].mean())
        if early and i < last and not bool(live[:, 0].any()):
            break  # every class token halted: the logits are final
    return out, depth, rho, layer_means


def _packed_block(blk, xl: Tensor, b: Tensor, B: int, N: int) -> Tensor:
    """A block on packed live tokens xl (T, C) of B samples, sample ids b (T,) in
    0..B-1, sorted by sample.

    The linears run on the T live tokens only; attention pads each sample's live
    tokens to (B, L) with a key mask (L = most live tokens in one sample), unless
    every sample still has all its N tokens (then a plain view)."""
    attn, (T, C) = blk.attn, xl.shape
    nh, d = attn.num_heads, attn.head_dim
    qkv = attn.qkv(blk.norm1(xl))  # (T, 3C)
    if B == 1 or T == B * N:  # one image, or nobody halted yet: no padding needed
        q, k, v = qkv.view(B, T // B, 3, nh, d).permute(2, 0, 3, 1, 4).unbind(0)
        mask, pos = None, None  # 3 x (B, heads, T / B, d)
    else:
        lengths = torch.bincount(b, minlength=B)  # (B,)
        L = int(lengths.max())
        pos = torch.arange(T, device=xl.device) - (torch.cumsum(lengths, 0) - lengths)[b]
        pad = qkv.new_zeros(B, L, 3 * C)
        pad[b, pos] = qkv  # (B, L, 3C)
        q, k, v = pad.view(B, L, 3, nh, d).permute(2, 0, 3, 1, 4).unbind(0)
        mask = (torch.arange(L, device=xl.device)[None] < lengths[:, None])[:, None, None]
    p = attn.attn_drop.p if attn.training else 0.0
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, scale=attn.scale)
    o = o.transpose(1, 2).reshape(-1, o.shape[2], C)  # (B, L, C)
    o = o.reshape(T, C) if pos is None else o[b, pos]  # (T, C)
    x = xl + attn.proj_drop(attn.proj(o))
    return x + blk.mlp(blk.norm2(x))


def run_gather(model, x: Tensor):
    """Only the live tokens enter each block: the work shrinks as tokens halt."""
    B, N, C = x.shape
    cfg, last = model.halting, len(model.blocks) - 1
    if cfg.official_layer_mean:
        raise ValueError(
            "token_path='gather' computes no scores for halted tokens; the official "
            "per-layer mean (official_layer_mean=True) needs token_path='mask'"
        )
    early = early_exit_active(model)
    idx = torch.arange(B * N, device=x.device)  # flat ids b * N + n of live tokens
    xl = x.reshape(B * N, C)  # (T, C) packed live tokens
    c, R = x.new_zeros(B * N), x.new_ones(B * N)
    out, rem = x.new_zeros(B * N, C), x.new_zeros(B * N)
    depth = torch.full((B * N,), len(model.blocks), dtype=torch.long, device=x.device)
    layer_means, grad = [], torch.is_grad_enabled()
    bl, n_img = idx // N, B  # image of each live token among the n_img unfinished ones
    for i, blk in enumerate(model.blocks):
        xl = _packed_block(blk, xl, bl, n_img, N)  # (T, C)
        if i == last:
            h = xl.new_ones(len(idx))
        elif cfg.halting:
            h = halting_score(xl, cfg.gate_scale, cfg.gate_center)
        else:
            h = xl.new_zeros(len(idx))
        c, R_new, w, reached = halting_step(c, R, h, cfg.eps)
        out.index_add_(0, idx, xl * w.unsqueeze(-1))
        if grad or model.training:  # only the losses need these
            layer_means.append((w * (idx % N != 0)).sum() / (B * (N - 1)))
        if i == last:
            rem[idx] = R
            break
        if not grad and not bool(reached.any()):
            R = R_new
            continue  # nobody halts here: nothing to drop
        if early and B == 1 and bool(reached[0]):  # the class token (packed position 0)
            depth[idx], rem[idx] = i + 1, R  # halted: the logits are final; the tokens
            break  # still live stop here too (their depth: this block)
        if early and B > 1:  # drop every token of an image whose class token halted
            cls_done = reached & (idx % N == 0)  # (T,)
            n_done = int(cls_done.sum())
            if n_done:
                exited = torch.zeros(n_img, dtype=torch.bool, device=x.device)
                exited[bl[cls_done]] = True
                gone = exited[bl] & ~reached  # live tokens of finished images
                depth[idx[gone]] = i + 1
                reached = reached | gone
                bl = torch.cumsum(~exited, 0)[bl] - 1  # renumber the unfinished images
                n_img -= n_done
        done = reached.nonzero().squeeze(1)  # positions in the packed batch
        keep = (~reached).nonzero().squeeze(1)
        depth[idx[done]], rem[idx[done]] = i + 1, R[done]
        idx, xl, c, R, bl = idx[keep], xl[keep], c[keep], R_new[keep], bl[keep]
        if len(idx) == 0:
            layer_means += [x.new_zeros(())] * (last - i) if layer_means else []
            break
    rho = depth.to(x.dtype) + rem  # rho = halting depth + remainder
    return out.view(B, N, C), depth.view(B, N), rho.view(B, N), layer_means


def _single_block(blk, xl: Tensor) -> Tensor:
    """A block on one image's live tokens xl (T, C), eval mode: the same modules and
    arithmetic as the plain block minus its dropout calls (identities in eval)."""
    attn, (T, C) = blk.attn, xl.shape
    qkv = attn.qkv(blk.norm1(xl)).view(1, T, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (1, heads, T, d)
    o = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)  # (1, heads, T, d)
    x = xl + attn.proj(o.transpose(1, 2).reshape(T, C))  # (T, C)
    mlp = blk.mlp
    return x + mlp.fc2(mlp.act(mlp.fc1(blk.norm2(x))))


def run_gather_single(model, x: Tensor, need_depth: bool = True):
    """The leanest gather loop: one image, inference, ``early_exit`` (logits only).

    The same recursion as :func:`run_gather` with the bookkeeping cut down to what
    the logits need: the halting sums ``c`` of the live tokens, and the ACT-weighted
    output and remainder of the class token alone (packed position 0 while it is
    live). The loop ends at the block where the class token halts. Depths are
    rebuilt at the end from the ids that entered each block (``need_depth``);
    ``rho`` and the per-block means are not computed (None, []).

    Book: ch05, section "Stopping at the class token".
    """
    _, N, C = x.shape
    cfg, last = model.halting, len(model.blocks) - 1
    thr = 1 - cfg.eps
    xl, c = x[0], x.new_zeros(N)  # (T, C) live tokens, (T,) their halting sums
    R, out_cls = x.new_ones(()), x.new_zeros(C)  # the class token's remainder, output
    entered, idx = [], None  # ids of the tokens entering each block (None: all N)
    for i, blk in enumerate(model.blocks):
        xl = _single_block(blk, xl)  # (T, C)
        entered.append(idx)
        if i == last:
            out_cls = torch.addcmul(out_cls, R, xl[0])  # the remainder, as in run_gather
            break
        if not cfg.halting:
            continue  # h = 0: weight 0, nothing halts
        h = halting_score(xl, cfg.gate_scale, cfg.gate_center)  # (T,)
        c = c + h
        reached = c > thr  # (T,)
        done = reached.nonzero()  # (n, 1), sorted: the class token first if it halts
        keep = None
        if len(done):
            if int(done[0, 0]) == 0:  # the class token halts: its output is final
                out_cls = torch.addcmul(out_cls, R, xl[0])
                break
            keep = (~reached).nonzero().squeeze(1)  # the class token stays at 0
        h0 = h[0]
        out_cls, R = torch.addcmul(out_cls, h0, xl[0]), R - h0
        if keep is not None:  # drop the patch tokens that halted
            xl, c = xl[keep], c[keep]
            idx = keep if idx is None else idx[keep]
    out = x.new_zeros(1, N, C)
    out[0, 0] = out_cls
    depth = None
    if need_depth:  # the last block each token entered (1-based)
        depth = torch.empty(N, dtype=torch.long, device=x.device)
        for i, ids in enumerate(entered):
            depth[slice(None) if ids is None else ids] = i + 1
        depth = depth.view(1, N)
    return out, depth, None, []
