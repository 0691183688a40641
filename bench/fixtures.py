"""Notebook fixtures, generated with nbformat and cached under bench/results/fixtures/.

- ``cells-N.ipynb``: N short code cells (two lines each), no outputs.
- ``images-5mb.ipynb``: code cells each with one random-noise PNG display output (random
  pixels do not compress, so the file really is ~5 MB), plus a few markdown cells.
Generation is deterministic (seeded), so every run and both servers see the same bytes.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

FIXTURE_DIR = Path(__file__).resolve().parent / "results" / "fixtures"


def _png(width: int, height: int, rng: random.Random) -> bytes:
    """An RGB PNG of random pixels, written by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1))
            + chunk(b"IEND", b""))


def _ids(nb: nbformat.NotebookNode, prefix: str) -> None:
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:05d}"


def code_notebook(cells: int) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [new_code_cell(source=f"x{i} = {i} * 2\nprint(x{i} + 1)") for i in range(cells)]
    _ids(nb, "c")
    return nb


def image_notebook(target_bytes: int = 5 * 1024 * 1024) -> nbformat.NotebookNode:
    rng = random.Random(20240607)
    nb = code_notebook(0)
    png_b64 = len(base64.b64encode(_png(160, 160, rng)))  # ~100 KB of base64 per image
    images = max(1, target_bytes // png_b64)
    cells = []
    for i in range(images):
        if i % 10 == 0:
            cells.append(new_markdown_cell(source=f"## Figure block {i // 10}\nSome prose."))
        png = base64.b64encode(_png(160, 160, rng)).decode()
        out = new_output("display_data", data={"image/png": png,
                                               "text/plain": "<Figure size 640x480 with 1 Axes>"})
        cell = new_code_cell(source=f"plot(data[{i}])\nplt.show()", outputs=[out],
                             execution_count=i + 1)
        cells.append(cell)
    nb.cells = cells
    _ids(nb, "img")
    return nb


def write(name: str, nb: nbformat.NotebookNode) -> Path:
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    path = FIXTURE_DIR / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        nbformat.write(nb, str(tmp))
        tmp.replace(path)
    return path


def cells_fixture(cells: int) -> Path:
    return write(f"cells-{cells}.ipynb", code_notebook(cells))


def warmup_fixture() -> Path:
    """A small notebook every server opens once before measuring (first-use costs)."""
    return write("warmup.ipynb", code_notebook(10))


def images_fixture() -> Path:
    return write("images-5mb.ipynb", image_notebook())


def cell_count(path: Path) -> int:
    return len(nbformat.read(str(path), as_version=4).cells)


def copies(source: Path, prefix: str, count: int) -> list[Path]:
    """``count`` distinct files with the same content (distinct files are distinct rooms)."""
    out = []
    data = source.read_bytes()
    for i in range(count):
        path = FIXTURE_DIR / f"{prefix}-{i:03d}.ipynb"
        if not path.exists() or path.stat().st_size != len(data):
            path.write_bytes(data)
        out.append(path)
    return out
