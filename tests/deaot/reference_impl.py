"""A straightforward re-implementation of DeAOT's propagation for the tests.

Written from the architecture description (reference facts, sec. 2), not from the
package: dense attention everywhere (the short-term window is a mask over all h*w keys),
explicit one-hot over all 11 channels, plain functional ops on the model's state dict.
Only the encoder and the FPN decoder are reused from the model (the official fixture
covers them).
"""

import math

import torch
import torch.nn.functional as F

D, D_ATT, R = 256, 128, 7


class RefDeAOT:
    def __init__(self, model, long_term_gap):
        self.m = model
        self.sd = {k: v.float() for k, v in model.state_dict().items()}
        self.L = len(model.LSTT.layers)
        self.gap = long_term_gap

    # -- primitives --------------------------------------------------------------------
    def lin(self, x, p):
        return F.linear(x, self.sd[p + ".weight"], self.sd.get(p + ".bias"))

    def ln(self, x, p):
        return F.layer_norm(
            x, (x.shape[-1],), self.sd[p + ".weight"], self.sd[p + ".bias"]
        )

    def dw(self, x, p):  # x (N, C) -> 5x5 depthwise conv on the (h, w) grid
        C = x.shape[1]
        img = x.t().reshape(1, C, self.h, self.w)
        y = F.conv2d(img, self.sd[p + ".dw_conv.conv.weight"], padding=2, groups=C)
        return y.reshape(C, -1).t()

    @staticmethod
    def attend(q, k, v):
        return torch.softmax(q @ k.t() / math.sqrt(D_ATT), dim=-1) @ v

    def local_attend(self, q, k, v, p):
        h, w = self.h, self.w
        n = torch.arange(h * w)
        ys, xs = n // w, n % w
        dy = ys[None, :] - ys[:, None]  # (query, key): key row - query row
        dx = xs[None, :] - xs[:, None]
        inwin = (dy.abs() <= R) & (dx.abs() <= R)
        off = ((dy + R) * (2 * R + 1) + (dx + R)).clamp(0, (2 * R + 1) ** 2 - 1)
        W_rel = self.sd[p + ".relative_emb_k.weight"].flatten(1)  # (225, 128)
        rel = (
            q @ W_rel.t() + self.sd[p + ".relative_emb_k.bias"]
        )  # (N, 225), unscaled q
        logits = q @ k.t() / math.sqrt(D_ATT) + rel.gather(1, off)
        logits = logits.masked_fill(~inwin, float("-inf"))
        return torch.softmax(logits, dim=-1) @ v

    def id_emb(self, mask):  # (1, 1, H, W) -> (N, 256), all 11 one-hot channels
        one_hot = (mask == torch.arange(11).view(1, -1, 1, 1)).float()
        e = F.conv2d(
            one_hot,
            self.sd["patch_wise_id_bank.weight"],
            self.sd["patch_wise_id_bank.bias"],
            stride=16,
            padding=8,
        )
        return self.ln(e.flatten(2)[0].t(), "id_norm")

    # -- one GPM layer -----------------------------------------------------------------
    def layer(self, i, tgt, tgt_id, mem_lt, mem_st, id_emb=None):
        p = f"LSTT.layers.{i}."
        t = self.ln(tgt, p + "norm1")
        qv = self.lin(t, p + "linear_QV")
        Q, V = qv[:, :D_ATT], F.silu(qv[:, D_ATT:])
        U = self.lin(t, p + "linear_U")
        if i == 0:
            id_in = None
            gate = torch.cat([F.silu(U), torch.ones_like(U)], -1)
        else:
            id_in = self.ln(
                tgt_id, p + "id_norm1"
            )  # the ID branch's own normalised input
            gate = F.silu(torch.cat([U, self.lin(id_in, p + "linear_ID_U")], -1))
        if id_emb is not None:
            mem_lt = mem_st = (Q, torch.cat([V, self.fuse(i, id_in, id_emb)], -1))
        out = []
        for kind, (K, Vm) in (("long_term_attn", mem_lt), ("short_term_attn", mem_st)):
            a = (
                self.attend(Q, K, Vm)
                if kind == "long_term_attn"
                else self.local_attend(Q, K, Vm, p + kind)
            )
            out.append(self.lin(self.dw(a * gate, p + kind), p + kind + ".projection"))
        o = out[0] + out[1]
        tgt = tgt + o[:, :D]
        tgt_id = o[:, D:] if tgt_id is None else tgt_id + o[:, D:]
        x = torch.cat([self.ln(tgt, p + "norm2"), self.ln(tgt_id, p + "id_norm2")], -1)
        s = p + "self_attn."
        QK = self.lin(x, s + "linear_QK")
        Vs = F.silu(
            torch.cat(
                [
                    self.lin(x[:, :D], s + "linear_V1"),
                    self.lin(x[:, D:], s + "linear_V2"),
                ],
                -1,
            )
        )
        Us = F.silu(
            torch.cat(
                [
                    self.lin(x[:, :D], s + "linear_U1"),
                    self.lin(x[:, D:], s + "linear_U2"),
                ],
                -1,
            )
        )
        o = self.lin(self.dw(self.attend(QK, QK, Vs) * Us, s[:-1]), s + "projection")
        return tgt + o[:, :D], tgt_id + o[:, D:], (Q, V, id_in)

    def fuse(self, i, id_in, id_emb):
        x = id_emb if id_in is None else torch.cat([id_in, id_emb], -1)
        return F.silu(self.lin(x, f"LSTT.layers.{i}.linear_ID_V"))

    def stack(self, feats, lt, st, id_emb=None):
        x = feats[-1]
        self.h, self.w = x.shape[-2:]
        tgt, tgt_id, frames = x.flatten(2)[0].t(), None, []
        for i in range(self.L):
            tgt, tgt_id, f = self.layer(
                i, tgt, tgt_id, lt and lt[i], st and st[i], id_emb
            )
            frames.append(f)
        return torch.cat([tgt, tgt_id], -1), frames

    def memory(self, frames, id_emb):
        return [
            (Q, torch.cat([V, self.fuse(i, id_in, id_emb)], -1))
            for i, (Q, V, id_in) in enumerate(frames)
        ]

    # -- engine ------------------------------------------------------------------------
    @torch.no_grad()
    def run(self, frames, first_mask, num_objects, masks):
        """Logits (1, n+1, H, W) of frames[1:], feeding masks[t-1] back after frame t."""
        H, W = frames[0].shape[-2:]
        feats = self.m.encode_image(frames[0])
        e = self.id_emb(first_mask)
        _, fr = self.stack(feats, None, None, e)
        lt = st = self.memory(fr, e)
        last, outs = 0, []
        for t in range(1, len(frames)):
            feats = self.m.encode_image(frames[t])
            y, fr = self.stack(feats, lt, st)
            gn = F.group_norm(
                y.t()[None],
                2,
                self.sd["LSTT.decoder_norms.0.gn.weight"],
                self.sd["LSTT.decoder_norms.0.gn.bias"],
            )  # (1, 512, N)
            x = gn.view(1, 512, self.h, self.w)
            logits = self.m.decoder(x, feats)[:, : num_objects + 1]
            outs.append(
                F.interpolate(logits, (H, W), mode="bilinear", align_corners=True)
            )
            st = self.memory(fr, self.id_emb(masks[t - 1]))
            if t - last >= self.gap:
                lt = [
                    (torch.cat([s[0], l[0]]), torch.cat([s[1], l[1]]))
                    for s, l in zip(st, lt)
                ]
                last = t
        return outs
