"""Digits at random places of a larger canvas, drawn from the fonts that ship with matplotlib.

Nothing is downloaded: the glyphs 0-9 of the DejaVu, STIX and Computer Modern fonts bundled with
matplotlib are rasterised from their outlines (supersampled, so edges are anti-aliased), then each
sample is a glyph of a random font, rotated, scaled and thickened at random, placed at a random
position. The task (which digit?) is easy, but where the digit is varies: the case in which a
translation-invariant classifier and a position-by-position RSM disagree.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

__all__ = ["DIGIT_FONTS", "digit_canvases", "glyphs"]

#: Font files of matplotlib's mpl-data/fonts/ttf with the ten digits (regular, bold, italic cuts).
DIGIT_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
               "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
               "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf", "cmb10.ttf",
               "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf")


def _font_dir() -> str:
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")


def glyphs(size: int = 16, fonts=DIGIT_FONTS, supersample: int = 4) -> np.ndarray:
    """The digits 0-9 of every font as coverage images in [0, 1]: shape (fonts, 10, size, size).

    Each glyph is scaled so that its larger side spans 90% of the square and centred; a pixel's value
    is the fraction of its ``supersample``² sub-pixels inside the outline (even-odd rule, so the
    counters of 0, 4, 6, 8, 9 stay open).
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath

    folder = _font_dir()
    centres = (np.arange(size * supersample) + 0.5) / supersample
    px, py = np.meshgrid(centres, centres)
    out = np.zeros((len(fonts), 10, size, size), dtype=np.float32)
    for f, font in enumerate(fonts):
        prop = FontProperties(fname=os.path.join(folder, font))
        for digit in range(10):
            path = TextPath((0, 0), str(digit), size=100, prop=prop)
            low, high = path.vertices.min(axis=0), path.vertices.max(axis=0)
            scale = 0.9 * size / float((high - low).max())
            offset = (size - (high - low) * scale) / 2
            # Pixel centres in glyph units; image rows grow downwards, glyph y upwards.
            points = np.stack(((px.ravel() - offset[0]) / scale + low[0],
                               (size - py.ravel() - offset[1]) / scale + low[1]), axis=1)
            inside = np.zeros(len(points), dtype=bool)
            for polygon in path.to_polygons():
                inside ^= Path(polygon).contains_points(points)
            out[f, digit] = inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))
    return out


def digit_canvases(count: int, canvas: int = 28, glyph_size: int = 14, seed: int = 0, shapes=None):
    """``count`` images of one digit each, at a random place of a ``canvas`` x ``canvas`` canvas.

    Each digit is a glyph of a random font (:func:`glyphs`), rotated by up to 15 degrees, scaled by
    0.8-1.15, thickened at random (a grey dilation) and placed so that it lies wholly inside the
    canvas; a little Gaussian noise is added.

    Returns
    -------
    images : ndarray of float32, shape (count, 1, canvas, canvas), values about in [0, 1]
    digits : ndarray of int64, shape (count,)
    """
    rng = np.random.default_rng(seed)
    shapes = glyphs(glyph_size) if shapes is None else shapes
    images = np.zeros((count, 1, canvas, canvas), dtype=np.float32)
    digits = rng.integers(0, 10, size=count)
    fonts = rng.integers(0, shapes.shape[0], size=count)
    for k in range(count):
        glyph = shapes[fonts[k], digits[k]]
        glyph = np.pad(glyph, glyph_size // 4)
        glyph = ndimage.rotate(glyph, rng.uniform(-15, 15), reshape=False, order=1)
        glyph = ndimage.zoom(glyph, rng.uniform(0.8, 1.15), order=1)
        if rng.random() < 0.5:
            glyph = ndimage.grey_dilation(glyph, size=(2, 2))
        rows, cols = np.nonzero(glyph > 0.05)
        glyph = np.clip(glyph[rows.min():rows.max() + 1, cols.min():cols.max() + 1], 0.0, 1.0)
        h, w = glyph.shape[0], glyph.shape[1]
        if h > canvas or w > canvas:
            raise ValueError(f"a glyph of {h} x {w} pixels does not fit a canvas of {canvas}")
        top, left = rng.integers(0, canvas - h + 1), rng.integers(0, canvas - w + 1)
        images[k, 0, top:top + h, left:left + w] = glyph
    images += rng.normal(0.0, 0.05, size=images.shape).astype(np.float32)
    return images, digits.astype(np.int64)
