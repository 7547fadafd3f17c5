"""Training the side network: CLIP frozen, gradients through the biases, resume."""

import itertools

import pytest
import torch
from open_clip.transformer import VisionTransformer

from mvk_tutorial.attention.san import class_logits, san_from_clip
from mvk_tutorial.attention.san_loss import linear_assignment, set_criterion
from mvk_tutorial.attention.train_san import train_san, trainable_state, training_labels

SIDE = dict(img_size=(32, 48), patch_size=8, embed_dim=16, depth=2, num_heads=2)
BIAS = dict(
    num_heads=2,
    num_layers=1,
    embed_channels=8,
    mlp_channels=8,
    mlp_num_layers=2,
    rescale_attn_bias=True,
)


def _model(seed=0):
    torch.manual_seed(seed)
    v = VisionTransformer(
        image_size=(16, 24),
        patch_size=8,
        width=16,
        layers=2,
        heads=2,
        mlp_ratio=2.0,
        output_dim=8,
    ).eval()
    return san_from_clip(
        v,
        1,
        side=SIDE,
        num_queries=4,
        fusion_map={0: 0, 1: 1},
        deep_supervision_idxs=[1, 2],
        attn_bias=BIAS,
    )


def _data(seed=1):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (6, 3, 32, 48), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 3, (6, 32, 48), generator=g).to(torch.uint8)
    labels[:, :4] = 255  # ignored pixels
    text = torch.nn.functional.normalize(torch.randn(3, 8, generator=g), dim=-1)
    return text, images, labels


def test_hungarian_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    for G, Q in [(1, 4), (3, 5), (4, 4), (5, 8)]:
        cost = torch.rand(G, Q, generator=g, dtype=torch.float64)
        rows, cols = linear_assignment(cost)
        best = min(
            sum(cost[i, c].item() for i, c in enumerate(p))
            for p in itertools.permutations(range(Q), G)
        )
        assert rows == list(range(G)) and len(set(cols)) == G
        assert abs(sum(cost[r, c].item() for r, c in zip(rows, cols)) - best) < 1e-12
    with pytest.raises(ValueError, match="rows <= columns"):
        linear_assignment(torch.rand(3, 2))


def test_clip_stays_frozen_and_side_network_learns():
    model = _model()
    clip_before = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if not k.startswith("side_adapter_network.")
    }
    side_before = {
        k: v.clone() for k, v in model.side_adapter_network.state_dict().items()
    }
    text, images, labels = _data()
    train_san(model, text, images, labels, steps=3, batch_size=2, seed=0)
    for name, p in model.named_parameters():
        assert p.requires_grad == name.startswith("side_adapter_network."), name
    for k, v in model.state_dict().items():
        if k in clip_before:
            assert torch.equal(v, clip_before[k]), f"CLIP weight {k} changed"
    changed = [
        k
        for k, v in model.side_adapter_network.state_dict().items()
        if not torch.equal(v, side_before[k])
    ]
    assert "mask_decoder.attn_mlp.layers.0.weight" in changed


def test_recognition_loss_reaches_side_network_through_biases():
    model = _model().train()
    text, images, labels = _data()
    _, embs, _ = model.forward_all(images[:2].float() / 255)
    logits = class_logits(embs[-1], text, 20.0)  # only the recognition branch
    torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), torch.zeros(8, dtype=torch.long)
    ).backward()
    dec = model.side_adapter_network.mask_decoder
    assert dec.attn_mlp.layers[0].weight.grad.abs().sum() > 0  # the bias branch learns
    assert dec.bias_scaling.weight.grad.abs().sum() > 0
    assert dec.pix_mlp.layers[0].weight.grad is None  # the mask branch is not involved
    assert model.clip_rec_head.proj.grad is None


def test_resume_equals_uninterrupted(tmp_path):
    text, images, labels = _data()
    full = _model()
    x_full, _ = train_san(full, text, images, labels, steps=4, batch_size=2, seed=3)
    part = _model()
    ck = tmp_path / "run.ckpt"
    train_san(
        part,
        text,
        images,
        labels,
        steps=4,
        batch_size=2,
        seed=3,
        checkpoint=ck,
        save_every=2,
        stop_after=2,
    )
    resumed = _model()  # the same frozen CLIP ...
    with torch.no_grad():  # ... but other side weights: they must come from the file
        for p in resumed.side_adapter_network.parameters():
            p.add_(torch.randn_like(p))
    torch.manual_seed(123)  # a fresh process would start from other RNG states
    x_res, info = train_san(
        resumed,
        text,
        images,
        labels,
        steps=4,
        batch_size=2,
        seed=3,
        checkpoint=ck,
        save_every=2,
    )
    assert info["steps"] == 4
    a, b = trainable_state(full, x_full), trainable_state(resumed, x_res)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with pytest.raises(ValueError, match="another run"):
        train_san(_model(), text, images, labels, steps=4, checkpoint=ck, tag="other")


def test_criterion_rejects_bad_class_ids():
    mask = torch.randn(1, 4, 8, 8)
    logits = torch.randn(1, 4, 4)
    target = torch.full((1, 8, 8), 7)
    with pytest.raises(ValueError, match="class ids"):
        set_criterion(mask, logits, target, num_classes=3)


def test_void_background_labels_and_loss():
    classes = ["background", "cat", "dog", "eel"]
    lab = torch.tensor([[[0, 1], [2, 3]]], dtype=torch.uint8)
    y, names = training_labels(lab, classes, "dog", void_background=True)
    assert names == ["cat", "eel"]  # no background text
    assert y.tolist() == [[[2, 0], [255, 1]]]  # background -> K = 2, "no object"
    # a query matched to the background segment is taught "no object" and the mask
    mask = torch.full((1, 3, 2, 2), -5.0)
    mask[0, 0] = torch.tensor([[5.0, -5.0], [-5.0, -5.0]])  # query 0 = background pixel
    mask[0, 1] = torch.tensor([[-5.0, 5.0], [-5.0, -5.0]])  # query 1 = cat
    mask[0, 2] = torch.tensor([[-5.0, -5.0], [-5.0, 5.0]])  # query 2 = eel
    good = torch.tensor([[[0.0, 0.0, 9.0], [9.0, 0.0, 0.0], [0.0, 9.0, 0.0]]])
    bad = torch.tensor([[[9.0, 0.0, 0.0], [0.0, 0.0, 9.0], [0.0, 9.0, 0.0]]])
    assert set_criterion(mask, good[None][0], y.long(), 2) < set_criterion(
        mask, bad[None][0], y.long(), 2
    )


def test_segment_maps_no_object_to_background():
    from mvk_tutorial.attention.train_san import segment

    class Texts:  # a stand-in text encoder: one fixed direction per prompt
        def encode_text(self, prompts, normalize=True):
            g = torch.Generator().manual_seed(len(prompts[0]))
            return torch.nn.functional.normalize(
                torch.randn(len(prompts), 8, generator=g), dim=-1
            )

    model = _model().eval()
    _, images, _ = _data()
    extras = dict(void_logit=torch.tensor(50.0), logit_scale=1.0, background="void")
    pred = segment(model, images[:2], Texts(), extras, ["background", "cat", "dog"])
    assert pred.shape == (2, 32, 48) and pred.unique().tolist() == [
        0
    ]  # all "no object"
    extras["void_logit"] = torch.tensor(-50.0)
    pred = segment(model, images[:2], Texts(), extras, ["background", "cat", "dog"])
    assert 0 not in pred.unique().tolist()  # never background without "no object"
