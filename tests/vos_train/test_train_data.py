"""Clip sampler: shapes, ids, determinism, and the DDP slot relation."""

import numpy as np
import pytest
import torch

from mvk_tutorial.vos.train_data import ClipConfig, DavisClips


def test_clip_shapes_and_ids(mini_davis):
    clips = DavisClips(mini_davis, "train", ClipConfig(clip_len=4, crop=(65, 65)), seed=3)
    for step in range(6):
        x, m, k = clips.sample(step, 0)
        assert x.shape == (4, 3, 65, 65) and x.dtype == torch.float32
        assert m.shape == (4, 1, 65, 65) and m.dtype == torch.long
        ids = set(np.unique(m[0].numpy()).tolist()) - {0}
        assert ids == set(range(1, k + 1))  # frame 0 holds exactly the ids 1..K
        assert int(m.max()) <= k  # later frames: no object that frame 0 lacks
        assert torch.isfinite(x).all()


def test_sampling_is_a_function_of_seed_step_slot(mini_davis):
    cfg = ClipConfig(clip_len=3, crop=(49, 49))
    a = DavisClips(mini_davis, "train", cfg, seed=0)
    b = DavisClips(mini_davis, "train", cfg, seed=0)
    x1, m1, _ = a.sample(7, 2)
    x2, m2, _ = b.sample(7, 2)
    assert torch.equal(x1, x2) and torch.equal(m1, m2)
    x3, _, _ = a.sample(8, 2)
    assert not torch.equal(x1, x3)


def test_two_ranks_draw_the_clips_of_one_doubled_batch(mini_davis):
    clips = DavisClips(mini_davis, "train", ClipConfig(clip_len=3, crop=(49, 49)), seed=0)
    big = clips.batch(5, 4, rank=0)
    r0, r1 = clips.batch(5, 2, rank=0), clips.batch(5, 2, rank=1)
    for i in range(3):
        assert torch.equal(big[i], torch.cat([r0[i], r1[i]]))


def test_bad_folder_is_named(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError), match=tmp_path.name):
        DavisClips(tmp_path, "train")


def _frame0_objects(clips, n=40, **kw):
    """Objects in frame 0 of n clips (the sampler's K) and whether K matches the masks."""
    out = []
    for step in range(n):
        _, m, k = clips.sample(step, 0)
        assert set(np.unique(m[0].numpy()).tolist()) - {0} == set(range(1, k + 1))
        out.append(k)
    return np.array(out)


def test_object_aware_sampling_shows_more_objects(mini_davis):
    plain = DavisClips(mini_davis, "train", ClipConfig(clip_len=3, crop=(49, 49)), seed=0)
    aware = DavisClips(
        mini_davis, "train", ClipConfig(clip_len=3, crop=(49, 49), multi_object=1.0), seed=0
    )
    assert aware.multi_sequences, "the test preset must hold a multi-object video"
    for i in aware.multi_sequences:  # the frames listed really show >= 2 objects
        from mvk_tutorial.vos.data import read_mask

        annos = aware.sequences[i][2]
        for f in aware.multi_frames[i][:3]:
            ids = set(np.unique(read_mask(annos[f])).tolist()) - {0, 255}
            assert len(ids) >= 2
    k_plain, k_aware = _frame0_objects(plain), _frame0_objects(aware)
    assert (k_aware >= 2).mean() > (k_plain >= 2).mean()
    assert (k_aware >= 2).mean() >= 0.5


def test_multi_object_fraction_is_checked(mini_davis):
    with pytest.raises(ValueError, match="multi_object"):
        DavisClips(mini_davis, "train", ClipConfig(multi_object=1.5))


def test_several_roots_pool_their_sequences(mini_davis, tmp_path):
    """Two folders (e.g. MVK-mini of two seeds) give the sequences of both, in order."""
    import shutil

    other = tmp_path / "DAVIS"
    shutil.copytree(mini_davis, other)
    cfg = ClipConfig(clip_len=3, crop=(49, 49))
    one = DavisClips(mini_davis, "train", cfg, seed=0)
    both = DavisClips([mini_davis, other], "train", cfg, seed=0)
    assert len(both) == 2 * len(one)
    firsts = {str(f[0]) for _, f, _ in both.sequences}
    assert any(str(other) in p for p in firsts) and any(str(mini_davis) in p for p in firsts)
    with pytest.raises(ValueError, match="davis_root"):
        DavisClips([], "train", cfg)


@pytest.mark.parametrize("text", ["", "a", "1,1", "-1", "1,,x"])
def test_data_seed_list_is_checked(text):
    from mvk_tutorial.vos.cli_train import parse_seeds

    with pytest.raises(ValueError, match="--data-seed"):
        parse_seeds(text)


def test_data_seed_list_parses():
    from mvk_tutorial.vos.cli_train import parse_seeds

    assert parse_seeds("1") == [1] and parse_seeds("1,3,4") == [1, 3, 4]


def test_training_on_the_evaluation_seed_is_refused(tmp_path, capsys):
    from mvk_tutorial.cli import main

    rc = main(["train", "deaot", "--out", str(tmp_path / "r"), "--data-seed", "1,0",
               "--steps", "1"])
    assert rc == 2
    assert "--eval-seed 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
