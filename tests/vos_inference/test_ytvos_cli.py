"""``mvk vos segment --ytvos-root`` end to end on a YouTube-VOS folder made from MVK-mini:
non-contiguous ids (1 and 5), an object whose first annotation comes mid-video, only
first-appearance annotations (the ``valid`` convention), and the server's output layout."""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from mvk_tutorial.cli import main
from mvk_tutorial.mvk.synthetic import ensure_mvk_mini
from mvk_tutorial.vos.data import YouTubeVOS
from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.inference import VOSSession
from mvk_tutorial.vos.io import read_frame, read_mask, write_mask

T = 6  # frames per video kept


def _make_ytvos(root, mini, late_from=3):
    """Two MVK-mini videos, halved in size; id 2 -> 5, and object 5 unannotated before
    frame ``late_from`` (so it first appears there)."""
    davis = mini / "DAVIS"
    names = sorted(p.name for p in (davis / "JPEGImages" / "480p").iterdir())[:2]
    meta = {"videos": {}}
    for name in names:
        jpg_dir = root / "JPEGImages" / name
        jpg_dir.mkdir(parents=True)
        gts = []
        for t in range(T):
            img = read_frame(davis / "JPEGImages" / "480p" / name / f"{t:05d}.jpg")
            h, w = img.shape[0] // 2, img.shape[1] // 2
            small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(jpg_dir / f"{t:05d}.jpg"), small[..., ::-1])
            m = read_mask(davis / "Annotations" / "480p" / name / f"{t:05d}.png")
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
            m = np.where(m == 2, 5, np.where(m == 1, 1, 0)).astype(np.uint8)
            if t < late_from:
                m[m == 5] = 0
            gts.append(m)
        objects = {}
        for obj in (1, 5):
            frames = [f"{t:05d}" for t in range(T) if (gts[t] == obj).any()]
            if frames:
                objects[str(obj)] = {"category": "fish", "frames": frames}
                first = int(frames[0])
                write_mask(root / "Annotations" / name / f"{first:05d}.png", gts[first])
        meta["videos"][name] = {"objects": objects}
    (root / "meta.json").write_text(json.dumps(meta))
    return names, meta


@pytest.fixture(scope="module")
def ytvos(tmp_path_factory):
    mini = ensure_mvk_mini("test")
    root = tmp_path_factory.mktemp("ytvos") / "valid"
    names, meta = _make_ytvos(root, mini)
    late = [
        n
        for n in names
        if "5" in meta["videos"][n]["objects"]
        and meta["videos"][n]["objects"]["5"]["frames"][0] != "00000"
    ]
    assert late, "the fixture must contain a late object"
    return root, names, late


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_deaot("deaot-t")
    path = tmp_path_factory.mktemp("ckpt") / "deaot_t.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_reader_sees_the_late_object(ytvos):
    root, names, late = ytvos
    reader = YouTubeVOS(root, split=None)
    video = reader.video(late[0])
    assert 5 in video.late_objects()
    refs = reader.reference_masks(late[0])
    first5 = video.objects[5].first_frame
    assert set(np.unique(refs[first5])) == {0, 5}  # object 1 filtered out there


def test_cli_ytvos_end_to_end(ytvos, checkpoint, tmp_path, capsys):
    root, names, late = ytvos
    model, ckpt = checkpoint
    out = tmp_path / "results"
    args = ["vos", "segment", "--ytvos-root", str(root), "--out", str(out),
            "--checkpoint", str(ckpt), "--model", "deaot-t", "--device", "cpu"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"({len(late)} with objects that join after their first frame)" in printed
    reader = YouTubeVOS(root, split=None)
    session = VOSSession(model)
    for name in names:
        video = reader.video(name)
        pngs = sorted(p.name for p in (out / "Annotations" / name).iterdir())
        assert pngs == [f"{t:05d}.png" for t in range(T)]  # every frame
        masks = [read_mask(out / "Annotations" / name / p) for p in pngs]
        first = {o.obj_id: int(o.first_frame) for o in video.objects.values()}
        refs = reader.reference_masks(name)
        for t, m in enumerate(masks):
            assert m.shape == refs["00000"].shape
            present = set(np.unique(m)) - {0}
            assert present <= {i for i, f in first.items() if f <= t}, (name, t)
        for frame, given in refs.items():  # given objects are written where given
            t = int(frame)
            assert (masks[t][given > 0] == given[given > 0]).all()
        np.testing.assert_array_equal(masks[0], refs["00000"])
        # the CLI is a loop over the session API: same masks
        state = session.init_state(reader.frame_paths(name))
        for frame, given in refs.items():
            session.add_mask(state, int(frame), given)
        for t, ids, m in session.propagate(state):
            np.testing.assert_array_equal(m, masks[t])
            assert ids == sorted(i for i, f in first.items() if f <= t)
    assert main(args) == 0 and "2 already done" in capsys.readouterr().out  # resume


def test_cli_ytvos_errors(tmp_path, checkpoint, capsys):
    _, ckpt = checkpoint
    base = ["--out", str(tmp_path / "o"), "--checkpoint", str(ckpt), "--device", "cpu"]
    assert main(["vos", "segment", "--ytvos-root", str(tmp_path), *base]) == 2
    assert "meta.json" in capsys.readouterr().err
    assert main(["vos", "segment", "--ytvos-root", str(tmp_path),
                 "--davis-root", str(tmp_path), *base]) == 2
    assert "--ytvos-root" in capsys.readouterr().err
    # an annotation named in meta.json but missing
    root = tmp_path / "valid"
    (root / "JPEGImages" / "v").mkdir(parents=True)
    cv2.imwrite(str(root / "JPEGImages" / "v" / "00000.jpg"), np.zeros((33, 49, 3), np.uint8))
    (root / "meta.json").write_text(
        json.dumps({"videos": {"v": {"objects": {"3": {"frames": ["00000"]}}}}})
    )
    assert main(["vos", "segment", "--ytvos-root", str(root), *base]) == 2
    assert "00000.png" in capsys.readouterr().err
    shutil.rmtree(root)


def test_generator_late_objects_end_to_end(tmp_path, checkpoint, capsys):
    """MVK-mini's own late objects (generator v6): its DAVIS folder carries a YouTube-VOS
    meta.json; segment the videos with a late object straight from that layout."""
    import pandas as pd

    mini = ensure_mvk_mini("test")
    objects = pd.read_csv(mini / "labels" / "objects.csv", dtype={"seq": str})
    reader = YouTubeVOS(mini / "DAVIS", split=None)
    for seq, rows in objects.groupby("seq"):  # reader agrees with the generator
        late = sorted(rows.obj_id[rows.first_frame > 0])
        assert reader.video(seq).late_objects() == late, seq
    late_rows = objects[objects.first_frame > 0]
    assert len(late_rows), "generator v6 should make some objects enter after frame 0"
    seq = late_rows.seq.iloc[0]
    root = tmp_path / "mini"  # a copy of one video, same layout
    for kind in ("JPEGImages", "Annotations"):
        shutil.copytree(mini / "DAVIS" / kind / "480p" / seq, root / kind / "480p" / seq)
    meta = json.loads((mini / "DAVIS" / "meta.json").read_text())
    (root / "meta.json").write_text(json.dumps({"videos": {seq: meta["videos"][seq]}}))
    _, ckpt = checkpoint
    out = tmp_path / "out"
    assert main(["vos", "segment", "--ytvos-root", str(root), "--out", str(out),
                 "--checkpoint", str(ckpt), "--device", "cpu"]) == 0
    assert "(1 with objects that join" in capsys.readouterr().out
    gt_dir = root / "Annotations" / "480p" / seq
    frames = sorted(p.stem for p in (root / "JPEGImages" / "480p" / seq).iterdir())
    written = sorted(p.stem for p in (out / "Annotations" / seq).iterdir())
    assert written == frames
    for _, row in late_rows[late_rows.seq == seq].iterrows():
        obj, first = int(row.obj_id), int(row.first_frame)
        for t, name in enumerate(frames):
            pred = read_mask(out / "Annotations" / seq / f"{name}.png")
            if t < first:
                assert obj not in pred, (obj, t)
            elif t == first:  # its first mask is written where it is given
                gt = read_mask(gt_dir / f"{name}.png")
                assert (pred[gt == obj] == obj).all()
    gt0 = read_mask(gt_dir / f"{frames[0]}.png")
    early = objects[(objects.seq == seq) & (objects.first_frame == 0)].obj_id
    np.testing.assert_array_equal(
        read_mask(out / "Annotations" / seq / f"{frames[0]}.png"),
        np.where(np.isin(gt0, list(early)), gt0, 0),
    )
