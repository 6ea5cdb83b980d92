"""Scenes composed of objects cut from the photographs bundled with scikit-image, pasted at random
positions on varied backgrounds; the labels say which objects each scene shows.

This is the retrieval setting of Wald et al. (2024, sec. 5.1) without a download: two scenes with the
same objects at different places should be found similar. Backgrounds are drawn independently of
the objects, from textures and photographs of the same package, with a random tint, so that
neither the background nor the position of an object tells which objects are present.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import skimage.data
from skimage.transform import resize

__all__ = ["BACKGROUNDS", "OBJECTS", "compose_scenes"]


@dataclasses.dataclass(frozen=True)
class _Cutout:
    """An object: the photograph of ``skimage.data`` it comes from and its box (top, bottom, left, right)."""

    image: str
    box: tuple


#: Objects by name: where they are in the bundled photographs. The logo and the colour wheel keep
#: their own outline (alpha channel, black surround); the horse is a silhouette, filled in brown.
OBJECTS = {
    "face": _Cutout("astronaut", (20, 230, 150, 330)),
    "cat": _Cutout("chelsea", (30, 290, 90, 380)),
    "cup": _Cutout("coffee", (20, 300, 150, 470)),
    "rocket": _Cutout("rocket", (100, 420, 265, 355)),
    "coins": _Cutout("coins", (0, 300, 0, 384)),
    "logo": _Cutout("logo", (0, 500, 0, 500)),
    "colorwheel": _Cutout("colorwheel", (0, 370, 0, 371)),
    "horse": _Cutout("horse", (0, 328, 0, 400)),
}
#: Backgrounds: photographs and textures of ``skimage.data``, a random crop of each, tinted at random.
BACKGROUNDS = ("grass", "gravel", "brick", "moon", "hubble_deep_field", "camera")


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def _shrunk(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` resized (anti-aliased, aspect kept) so that its shorter side is at most ``side``: the
    scenes are small, and resizing from the full photographs each time would dominate."""
    scale = side / min(image.shape[:2])
    if scale >= 1:
        return image
    shape = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))) + image.shape[2:]
    return resize(image, shape, anti_aliasing=True).astype(np.float32)


def _cutouts(side: int) -> dict:
    """Object name -> (RGB image in [0, 1], mask in [0, 1]), the shorter side at most ``side``."""
    out = {}
    for name, cut in OBJECTS.items():
        raw = getattr(skimage.data, cut.image)()
        top, bottom, left, right = cut.box
        raw = raw[top:bottom, left:right]
        if name == "logo":
            mask = raw[..., 3].astype(np.float32) / 255.0
            rgb = _rgb(raw)
        elif name == "horse":
            mask = (~raw).astype(np.float32)  # the horse is False in the picture
            rgb = np.broadcast_to(np.array([0.45, 0.28, 0.12], dtype=np.float32), raw.shape + (3,)).copy()
        elif name == "colorwheel":
            rgb = _rgb(raw)
            mask = (rgb.max(axis=2) > 0.05).astype(np.float32)
        else:
            rgb = _rgb(raw)
            mask = np.ones(raw.shape[:2], dtype=np.float32)
        out[name] = (_shrunk(rgb, side), _shrunk(mask, side))
    return out


def _background(rng, size: int, sources: dict) -> np.ndarray:
    source = sources[BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]]
    crop = int(rng.integers(size, min(source.shape[:2]) + 1))
    top = int(rng.integers(source.shape[0] - crop + 1))
    left = int(rng.integers(source.shape[1] - crop + 1))
    patch = resize(source[top:top + crop, left:left + crop], (size, size), anti_aliasing=True)
    tint = rng.uniform(0.4, 1.0, size=3).astype(np.float32)
    return (patch * tint).astype(np.float32)


def compose_scenes(count: int, size: int = 64, objects=(1, 3), object_size=(20, 28), seed: int = 0):
    """``count`` scenes of ``size`` x ``size`` pixels, each with a few objects on a background.

    Each scene has between ``objects[0]`` and ``objects[1]`` distinct objects of :data:`OBJECTS`,
    chosen at random; each is resized (keeping its aspect) so that its longer side is a random length
    in ``object_size``, flipped left-right at random, and pasted at a random position where it
    overlaps no other object of the scene (positions are redrawn up to 50 times, then overlap is
    allowed). Backgrounds are random crops of :data:`BACKGROUNDS`, tinted at random.

    Returns
    -------
    scenes : ndarray of float32, shape (count, 3, size, size), values in [0, 1]
    labels : list of frozenset of str
        The objects in each scene.
    """
    rng = np.random.default_rng(seed)
    cutouts = _cutouts(2 * object_size[1])
    names = list(OBJECTS)
    sources = {name: _shrunk(_rgb(getattr(skimage.data, name)()), 2 * size) for name in BACKGROUNDS}
    scenes = np.empty((count, 3, size, size), dtype=np.float32)
    labels = []
    for k in range(count):
        canvas = _background(rng, size, sources)
        chosen = rng.choice(len(names), size=int(rng.integers(objects[0], objects[1] + 1)), replace=False)
        taken = np.zeros((size, size), dtype=bool)
        for index in chosen:
            rgb, mask = cutouts[names[index]]
            longer = int(rng.integers(object_size[0], object_size[1] + 1))
            scale = longer / max(rgb.shape[:2])
            h, w = max(1, int(round(rgb.shape[0] * scale))), max(1, int(round(rgb.shape[1] * scale)))
            obj = resize(rgb, (h, w), anti_aliasing=True).astype(np.float32)
            alpha = resize(mask, (h, w), anti_aliasing=True).astype(np.float32)[..., None]
            if rng.random() < 0.5:
                obj, alpha = obj[:, ::-1], alpha[:, ::-1]
            for _ in range(50):
                top, left = int(rng.integers(size - h + 1)), int(rng.integers(size - w + 1))
                if not taken[top:top + h, left:left + w].any():
                    break
            taken[top:top + h, left:left + w] = True
            region = canvas[top:top + h, left:left + w]
            canvas[top:top + h, left:left + w] = alpha * obj + (1 - alpha) * region
        scenes[k] = canvas.transpose(2, 0, 1)
        labels.append(frozenset(names[index] for index in chosen))
    return scenes, labels
