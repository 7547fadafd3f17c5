"""DAVIS / YouTube-VOS readers and the palette PNG writer (mvk_tutorial.vos.data)."""

from __future__ import annotations

import json
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mvk_tutorial.vos import data

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
DAVIS_REF = fx.DAVIS
needs_fixture = fx.needs(DAVIS_REF)


def test_palette_is_the_voc_colour_map():
    # Independent formula: bit k of the id goes to bit (7 - k // 3) of channel k % 3.
    pal = data.DAVIS_PALETTE
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    for i in (0, 1, 2, 3, 7, 8, 20, 255):
        expected = [0, 0, 0]
        for k in range(8):
            if (i >> k) & 1:
                expected[k % 3] |= 1 << (7 - k // 3)
        assert pal[i].tolist() == expected, i
    assert pal[1].tolist() == [128, 0, 0] and pal[2].tolist() == [0, 128, 0]


def test_write_then_read_mask_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 6, size=(13, 17)).astype(np.uint8)
    mask[0, 0] = 255
    out = data.write_mask(tmp_path / "sub" / "00003.png", mask)
    with Image.open(out) as im:  # what the official toolkit does: np.array(Image.open)
        assert im.mode == "P"
        assert np.array_equal(np.array(im), mask)
        assert im.getpalette()[3:6] == [128, 0, 0]
    got = data.read_mask(out)
    assert got.dtype == np.uint8 and np.array_equal(got, mask)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["00003.png"]  # no temp


def test_write_mask_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="0..255"):
        data.write_mask(tmp_path / "a.png", np.full((2, 2), 300))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        data.write_mask(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    assert not (tmp_path / "a.png").exists()


def test_read_mask_refuses_rgb_and_names_file(tmp_path):
    path = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    with pytest.raises(ValueError, match="rgb.png.*mode RGB"):
        data.read_mask(path)
    with pytest.raises(FileNotFoundError, match="nothere.png"):
        data.read_mask(tmp_path / "nothere.png")


def test_read_frame_is_rgb(tmp_path):
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    Image.fromarray(rgb).save(tmp_path / "f.png")
    got = data.read_frame(tmp_path / "f.png")
    assert got.shape == (5, 6, 3) and got[0, 0].tolist() == [200, 0, 0]


@needs_fixture
def test_davis_fixture_layout():
    root = DAVIS_REF / "DAVIS"
    seqs = data.list_sequences(root, "2017", "val")
    listed = (root / "ImageSets/2017/val.txt").read_text().split()
    assert seqs == listed
    for seq in seqs:
        frames = data.list_frames(root, seq)
        anns = data.list_annotations(root, seq)
        assert [p.stem for p in frames] == [p.stem for p in anns]
        assert [p.name for p in frames] == sorted(p.name for p in frames)
        s = data.load_sequence(root, seq)
        first = np.array(Image.open(anns[0]))
        assert s.num_objects == int(first[first != 255].max())
        assert s.read_frames().shape[-1] == 3


def _tiny_davis(tmp_path: Path, seqs=("a", "b"), listed=("a", "b")) -> Path:
    root = tmp_path / "DAVIS"
    for s in seqs:
        for t in range(3):
            data.write_mask(
                root / "Annotations/480p" / s / f"{t:05d}.png",
                np.zeros((4, 5), np.uint8),
            )
            (root / "JPEGImages/480p" / s).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(
                root / "JPEGImages/480p" / s / f"{t:05d}.jpg"
            )
    (root / "ImageSets/2017").mkdir(parents=True)
    (root / "ImageSets/2017/val.txt").write_text("\n".join(listed) + "\n")
    return root


def test_sequence_list_naming_absent_sequences(tmp_path):
    root = _tiny_davis(tmp_path, listed=("a", "ghost", "b"))
    with pytest.raises(FileNotFoundError, match="val.txt.*ghost"):
        data.list_sequences(root)
    with pytest.raises(FileNotFoundError, match="ImageSets/2016/val.txt"):
        data.list_sequences(root, year="2016")


def test_missing_annotation_folder_names_sequence(tmp_path):
    root = _tiny_davis(tmp_path)
    for p in (root / "Annotations/480p/b").iterdir():
        p.unlink()
    (root / "Annotations/480p/b").rmdir()
    with pytest.raises(FileNotFoundError, match="sequence 'b'.*Annotations/480p/b"):
        data.list_annotations(root, "b")
    (root / "JPEGImages/480p/a/00002.jpg").unlink()
    with pytest.raises(ValueError, match="sequence 'a'.*2 frames.*3 annotations"):
        data.load_sequence(root, "a")


def test_youtube_vos_objects_appearing_late(tmp_path):
    split = tmp_path / "valid"
    meta = {
        "videos": {
            "v1": {
                "objects": {
                    "1": {"category": "fish", "frames": ["00000", "00005", "00010"]},
                    "2": {"category": "crab", "frames": ["00005", "00010"]},
                }
            }
        }
    }
    (split).mkdir()
    (split / "meta.json").write_text(json.dumps(meta))
    for t in (0, 5, 10):
        (split / "JPEGImages/v1").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(
            split / "JPEGImages/v1" / f"{t:05d}.jpg"
        )
    m0 = np.zeros((4, 4), np.uint8)
    m0[0, 0] = 1
    m5 = np.zeros((4, 4), np.uint8)
    m5[1, 1] = 1  # object 1 again: must not be re-added at frame 5
    m5[2, 2] = 2
    data.write_mask(split / "Annotations/v1/00000.png", m0)
    data.write_mask(split / "Annotations/v1/00005.png", m5)

    ds = data.YouTubeVOS(tmp_path, "valid")
    assert ds.video_names() == ["v1"]
    video = ds.video("v1")
    assert video.frame_names == ("00000", "00005", "00010")
    assert (
        video.objects[2].category == "crab" and video.objects[2].first_frame == "00005"
    )
    assert video.late_objects() == [2]
    assert video.objects_starting_at("00000") == [1]
    refs = ds.reference_masks("v1")
    assert sorted(refs) == ["00000", "00005"]
    assert np.array_equal(refs["00000"], m0)
    expected5 = np.zeros((4, 4), np.uint8)
    expected5[2, 2] = 2
    assert np.array_equal(refs["00005"], expected5)
    assert len(ds.frame_paths("v1")) == 3


def test_youtube_vos_bad_meta(tmp_path):
    with pytest.raises(FileNotFoundError, match="meta.json"):
        data.YouTubeVOS(tmp_path, None)
    (tmp_path / "meta.json").write_text('{"vids": {}}')
    with pytest.raises(ValueError, match="meta.json"):
        data.YouTubeVOS(tmp_path, None)
