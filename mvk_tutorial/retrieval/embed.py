"""Batched, cached, resumable CLIP embedding extraction (``mvk kis embed``).

Items (frame images or query texts) are split into fixed shards of ``shard_size``
items. Each finished shard is written atomically (``shard_00012.pt``), so an interrupted
run resumes where it stopped without recomputing or losing finished shards. Under
``torchrun`` each process takes the shards ``k`` with ``k % WORLD_SIZE == RANK`` and
uses the GPU ``LOCAL_RANK``. Images are decoded with OpenCV in ``DataLoader`` workers.

Cache layout of one kind (``<out>/image`` or ``<out>/text``)::

    manifest.json      {"kind", "model", "pretrained", "shard_size", "items": [...], "meta": {...}}
    shard_00000.pt     {"start": 0, "end": 256, "emb": (256, D) float32}

Book: ch10, section "Embedding a whole collection".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mvk_tutorial.utils import atomic_path, atomic_write

MANIFEST = "manifest.json"


def dist_info() -> tuple[int, int]:
    """(rank, world_size) from the ``RANK`` / ``WORLD_SIZE`` variables torchrun sets."""
    try:
        rank, world = (
            int(os.environ.get("RANK", "0")),
            int(os.environ.get("WORLD_SIZE", "1")),
        )
    except ValueError:
        raise ValueError("RANK and WORLD_SIZE must be integers") from None
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} must be in 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    return rank, world


def shard_bounds(num_items: int, shard_size: int) -> list[tuple[int, int]]:
    """[(start, end)] of consecutive shards covering ``num_items`` items."""
    if shard_size < 1:
        raise ValueError(f"shard_size: expected >= 1, got {shard_size}")
    return [
        (s, min(s + shard_size, num_items)) for s in range(0, num_items, shard_size)
    ]


def shards_of_rank(num_shards: int, rank: int, world_size: int) -> list[int]:
    """The shard ids one process handles: ``k % world_size == rank``."""
    return [k for k in range(num_shards) if k % world_size == rank]


def shard_path(cache_dir: Path, k: int) -> Path:
    return Path(cache_dir) / f"shard_{k:05d}.pt"


def decode_image(path: str | Path) -> Image.Image:
    """Read an image with OpenCV (BGR) and return it as an RGB PIL image."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(
            f"{path}: cannot read the image (missing or not an image file)"
        )
    return Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


class ImageFiles(Dataset):
    """``(index, preprocessed image)`` for selected items of a list of image paths."""

    def __init__(
        self, paths: Sequence[str], indices: Sequence[int], preprocess: Callable
    ):
        self.paths, self.indices, self.preprocess = (
            list(paths),
            list(indices),
            preprocess,
        )

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        j = self.indices[i]
        return j, self.preprocess(decode_image(self.paths[j]))  # (3, H, W)


def _write_manifest(cache_dir: Path, manifest: dict) -> None:
    path = cache_dir / MANIFEST
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != manifest:
            diff = [k for k in manifest if old.get(k) != manifest[k]]
            raise ValueError(
                f"{path}: this cache was made with a different {', '.join(diff)}; "
                "use another output folder or delete this one"
            )
        return
    atomic_write(path, json.dumps(manifest))


def _pending(cache_dir: Path, mine: list[int]) -> list[int]:
    return [k for k in mine if not shard_path(cache_dir, k).is_file()]


def _save_shard(
    cache_dir: Path, k: int, start: int, end: int, emb: torch.Tensor
) -> None:
    with atomic_path(shard_path(cache_dir, k)) as tmp:
        torch.save({"start": start, "end": end, "emb": emb.float().cpu()}, tmp)


def run_sharded(
    cache_dir: str | Path,
    items: Sequence[str],
    encode_batches: Callable[[list[int]], Iterable[tuple[list[int], torch.Tensor]]],
    manifest: dict,
    shard_size: int = 1024,
    desc: str = "embed",
) -> int:
    """Compute and save this process's missing shards; return how many were written.

    ``encode_batches(indices)`` yields ``(indices, (b, D) embeddings)`` in order for the
    given item indices. Book: ch10 (section "Embedding a whole collection").
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(
        cache_dir, {**manifest, "shard_size": shard_size, "items": list(items)}
    )
    bounds = shard_bounds(len(items), shard_size)
    rank, world = dist_info()
    todo = _pending(cache_dir, shards_of_rank(len(bounds), rank, world))
    indices = [i for k in todo for i in range(*bounds[k])]
    written, buf = 0, []
    with tqdm(
        total=len(indices), desc=f"{desc} (rank {rank}/{world})", unit="item"
    ) as bar:
        for _, emb in encode_batches(indices):
            buf.append(emb.float().cpu())
            bar.update(emb.shape[0])
            done = torch.cat(buf) if buf else torch.empty(0)
            while todo and done.shape[0] >= bounds[todo[0]][1] - bounds[todo[0]][0]:
                k = todo.pop(0)
                start, end = bounds[k]
                _save_shard(cache_dir, k, start, end, done[: end - start])
                done, written = done[end - start :], written + 1
            buf = [done] if done.numel() else []
    return written


def load_cached(cache_dir: str | Path) -> tuple[torch.Tensor, dict]:
    """All shards of a finished cache: ((N, D) float32 embeddings, manifest).

    Raises ``FileNotFoundError`` naming the missing shards of an unfinished run.
    """
    cache_dir = Path(cache_dir)
    path = cache_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no embedding cache here (run `mvk kis embed`)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        bounds = shard_bounds(len(manifest["items"]), manifest["shard_size"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path}: malformed cache manifest ({exc!r}); expected the JSON that "
            "`mvk kis embed` writes (delete the cache folder and run it again)"
        ) from None
    missing = [k for k in range(len(bounds)) if not shard_path(cache_dir, k).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{cache_dir}: unfinished embedding run, {len(missing)} of {len(bounds)} shards "
            f"missing (first: {shard_path(cache_dir, missing[0]).name}); run it again to resume"
        )
    parts = []
    for k, (start, end) in enumerate(bounds):
        try:
            shard = torch.load(shard_path(cache_dir, k), weights_only=True)
            ok = (shard["start"], shard["end"]) == (start, end)
            ok = ok and shard["emb"].shape[0] == end - start
        except Exception as exc:  # truncated or not a shard: name it, no traceback
            raise RuntimeError(
                f"{shard_path(cache_dir, k)}: corrupt embedding shard ({exc}); delete "
                "it and run `mvk kis embed` again to recompute it"
            ) from exc
        if not ok:
            raise ValueError(
                f"{shard_path(cache_dir, k)}: expected items {start}..{end - 1}"
            )
        parts.append(shard["emb"])
    return torch.cat(parts), manifest


def image_batches(
    bundle, paths: Sequence[str], batch_size: int = 64, num_workers: int = 2
):
    """Return ``encode_batches`` for images: OpenCV decoding in DataLoader workers."""

    def encode(indices: list[int]):
        ds = ImageFiles(paths, indices, bundle.preprocess)
        loader = DataLoader(
            ds,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=torch.cuda.is_available(),
        )
        for idx, images in loader:  # images: (B, 3, H, W)
            yield idx.tolist(), bundle.encode_image(images)

    return encode


def text_batches(bundle, texts: Sequence[str], batch_size: int = 256):
    """Return ``encode_batches`` for texts (tokenised by the model's tokenizer)."""

    def encode(indices: list[int]):
        for s in range(0, len(indices), batch_size):
            idx = indices[s : s + batch_size]
            yield idx, bundle.encode_text([texts[i] for i in idx])

    return encode


def embed_collection(
    bundle,
    out_dir: str | Path,
    image_paths: Sequence[str],
    texts: Sequence[str] = (),
    text_meta: dict | None = None,
    batch_size: int = 64,
    num_workers: int = 2,
    shard_size: int = 1024,
) -> dict[str, int]:
    """Embed images (``out/image``) and texts (``out/text``); return shards written.

    Book: ch10 (section "Embedding a whole collection").
    """
    out_dir = Path(out_dir)
    base = {"model": bundle.name, "pretrained": bundle.pretrained}
    written = {
        "image": run_sharded(
            out_dir / "image",
            [str(p) for p in image_paths],
            image_batches(bundle, image_paths, batch_size, num_workers),
            {**base, "kind": "image", "meta": {}},
            shard_size,
            "images",
        )
    }
    if texts:
        written["text"] = run_sharded(
            out_dir / "text",
            list(texts),
            text_batches(bundle, texts, 4 * batch_size),
            {**base, "kind": "text", "meta": text_meta or {}},
            shard_size,
            "texts",
        )
    return written
