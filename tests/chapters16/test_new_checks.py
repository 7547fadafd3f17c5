"""The new exercise checks of ch01, ch02, ch07 and ch10 pass right answers and fail,
with a hint and without crashing, on wrong, NaN, None and wrongly typed answers."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from mvk_tutorial import checks


# ---------------------------------------------------------------- ch01 cross-attention
class GoodCross(nn.Module):
    def __init__(self, embed_dim, num_heads, kdim=None, vdim=None, bug=None):
        super().__init__()
        E, self.h, self.bug = embed_dim, num_heads, bug
        self.q_proj_weight = nn.Parameter(torch.randn(E, E))
        self.k_proj_weight = nn.Parameter(torch.randn(E, kdim or E))
        self.v_proj_weight = nn.Parameter(torch.randn(E, vdim or E))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * E))
        self.out_proj = nn.Linear(E, E)

    def forward(self, query, key, value, key_padding_mask=None):
        B, nq, E = query.shape
        nk, h, d = key.shape[1], self.h, E // self.h
        bq, bk, bv = self.in_proj_bias.chunk(3)
        q = (query @ self.q_proj_weight.T + bq).reshape(B, nq, h, d).transpose(1, 2)
        k = (key @ self.k_proj_weight.T + bk).reshape(B, nk, h, d).transpose(1, 2)
        v = (value @ self.v_proj_weight.T + bv).reshape(B, nk, h, d).transpose(1, 2)
        s = q @ k.transpose(-2, -1) / math.sqrt(d)
        if key_padding_mask is not None and self.bug != "mask":
            s = s.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        w = s.softmax(-1)
        o = w @ v
        o = o.reshape(B, nq, E) if self.bug == "merge" else o.transpose(1, 2).reshape(B, nq, E)
        if self.bug == "nan":
            o = o * float("nan")
        return self.out_proj(o), w.mean(1)


def test_cross_attention_accepts_a_correct_module(capsys):
    checks.cross_attention(GoodCross)
    assert capsys.readouterr().out.strip() == "PASSED cross_attention: 4/4 cases"


@pytest.mark.parametrize(
    "answer, match",
    [
        (lambda *a, **k: GoodCross(*a, **k, bug="mask"), "padded keys"),
        (lambda *a, **k: GoodCross(*a, **k, bug="merge"), "weights match"),
        (lambda *a, **k: GoodCross(*a, **k, bug="nan"), "NaN"),
        (lambda *a, **k: None, "nn.Module"),
        (lambda *a, **k: nn.MultiheadAttention(a[0], a[1], batch_first=True), "parameters"),
        (lambda *a, **k: 1 / 0, "ZeroDivisionError"),
        ("not a class", "expected a function"),
    ],
)
def test_cross_attention_fails_with_a_hint(answer, match):
    with pytest.raises(AssertionError, match=f"(?s){match}.*Hint"):
        checks.cross_attention(answer)


# ---------------------------------------------------------------- ch02 ViT block
class GoodBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, post_norm=False):
        super().__init__()
        self.h, self.post = num_heads, post_norm
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.Module()
        self.attn.qkv, self.attn.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.mlp.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def _attn(self, x):
        B, N, C = x.shape
        qkv = self.attn.qkv(x).reshape(B, N, 3, self.h, C // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv
        w = (q @ k.transpose(-2, -1) / math.sqrt(C // self.h)).softmax(-1)
        return self.attn.proj((w @ v).transpose(1, 2).reshape(B, N, C))

    def _mlp(self, x):
        return self.mlp.fc2(nn.functional.gelu(self.mlp.fc1(x)))

    def forward(self, x):
        if self.post:
            x = self.norm1(x + self._attn(x))
            return self.norm2(x + self._mlp(x))
        x = x + self._attn(self.norm1(x))
        return x + self._mlp(self.norm2(x))


def test_vit_block_accepts_a_correct_block(capsys):
    checks.vit_block(GoodBlock)
    assert capsys.readouterr().out.strip() == "PASSED vit_block: 3/3 cases"


class NanBlock(GoodBlock):
    def forward(self, x):
        return super().forward(x) * float("nan")


class WrongTypeBlock(GoodBlock):
    def forward(self, x):
        return "tokens"


@pytest.mark.parametrize(
    "answer, match",
    [
        (lambda d, h, r: GoodBlock(d, h, r, post_norm=True), "post-norm"),
        (NanBlock, "NaN"),
        (WrongTypeBlock, "expected a tensor"),
        (lambda d, h, r: None, "nn.Module"),
        (lambda d, h, r: nn.Linear(d, d), "parameter names"),
        (None, "expected a function"),
    ],
)
def test_vit_block_fails_with_a_hint(answer, match):
    with pytest.raises(AssertionError, match=f"(?s){match}.*Hint"):
        checks.vit_block(answer)


# ---------------------------------------------------------------- ch07 J&F table
def good_jf(js, fs):
    def stats(x):
        x = np.asarray(x, float)
        ids = (np.floor(np.linspace(1, len(x), 5) + 0.5) - 1).astype(int)  # halves up
        q = [x[ids[i] : ids[i + 1] + 1] for i in range(4)]
        return x.mean(), (x > 0.5).mean(), q[0].mean() - q[3].mean()

    J = np.array([stats(x) for x in js])
    F = np.array([stats(x) for x in fs])
    out = dict(zip(["J-Mean", "J-Recall", "J-Decay"], J.mean(0)))
    out.update(zip(["F-Mean", "F-Recall", "F-Decay"], F.mean(0)))
    out["J&F-Mean"] = (out["J-Mean"] + out["F-Mean"]) / 2
    return out


def test_jf_table_accepts_an_independent_implementation(capsys):
    checks.jf_table(good_jf)
    assert capsys.readouterr().out.strip() == "PASSED jf_table: 4/4 cases"


def _no_overlap(js, fs):  # quarters that do not share a frame: a common slip
    out = good_jf(js, fs)
    for key, xs in (("J-Decay", js), ("F-Decay", fs)):
        d = []
        for x in xs:
            q = np.array_split(np.asarray(x, float), 4)
            d.append(q[0].mean() - q[3].mean())
        out[key] = float(np.mean(d))
    return out


@pytest.mark.parametrize(
    "answer, match",
    [
        (_no_overlap, "Decay"),
        (lambda js, fs: {**good_jf(js, fs), "J-Mean": float("nan")}, "not a finite"),
        (lambda js, fs: {**good_jf(js, fs), "F-Mean": None}, "expected a number"),
        (lambda js, fs: {**good_jf(js, fs), "F-Mean": "0.5"}, "expected a number"),
        (lambda js, fs: {k: v for k, v in good_jf(js, fs).items() if k != "J&F-Mean"}, "missing"),
        (lambda js, fs: None, "expected a dict"),
        (lambda js, fs: list(good_jf(js, fs).values()), "expected a dict"),
        (lambda js, fs: js[5], "IndexError"),
    ],
)
def test_jf_table_fails_with_a_hint(answer, match):
    with pytest.raises(AssertionError, match=f"(?s){match}.*Hint"):
        checks.jf_table(answer)


# ---------------------------------------------------------------- ch10 video ranks
def good_video_rank(scores, target, videos):
    best = {}
    for s, v in zip(scores.tolist(), videos.tolist()):
        best[v] = max(best.get(v, -math.inf), s)
    t = best[int(videos[target])]
    tv = int(videos[target])
    return sum(1 for v, s in best.items() if s > t or (s == t and v < tv))


def test_video_rank_accepts_a_brute_force_loop(capsys):
    checks.video_rank(good_video_rank)
    assert capsys.readouterr().out.strip() == "PASSED video_rank: 5/5 cases"


def _frame_rank(scores, target, videos):
    return int((scores > scores[target]).sum())


def _mean_pooling(scores, target, videos):
    V = int(videos.max()) + 1
    m = torch.zeros(V, dtype=scores.dtype).index_add_(0, videos, scores) / torch.bincount(videos)
    t = int(videos[target])
    return int((m > m[t]).sum() + (m[:t] == m[t]).sum())


@pytest.mark.parametrize(
    "answer, match",
    [
        (_frame_rank, "FRAME"),
        (_mean_pooling, "expected"),
        (lambda s, t, v: float("nan"), "not a finite"),
        (lambda s, t, v: None, "expected a number"),
        (lambda s, t, v: "3", "expected a number"),
        (lambda s, t, v: torch.tensor([1, 2]), "one number"),
        (lambda s, t, v: s[10_000], "IndexError"),
    ],
)
def test_video_rank_fails_with_a_hint(answer, match):
    with pytest.raises(AssertionError, match=f"(?s){match}.*Hint"):
        checks.video_rank(answer)


def test_unanswered_exercises_raise_not_implemented():
    def todo(*a, **k):
        raise NotImplementedError()

    for check in (checks.cross_attention, checks.vit_block, checks.jf_table, checks.video_rank):
        with pytest.raises(NotImplementedError):
            check(todo)
