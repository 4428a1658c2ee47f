"""A folder of hostile image files, made on the spot with Pillow and numpy (nothing binary is
committed): what a data folder from the wild holds, for the loader to convert or skip, never
crash on.

    python tests/fuzz_corpus.py OUT_DIR    # writes the corpus into OUT_DIR and lists it

``make_corpus(folder)`` writes it and returns each created name with what it is; ``EXPECTED``
says what the loader should make of each: ``"ok"`` (converted) or the category of the reason
it is skipped for. Entries the platform cannot make (a named pipe, a name that is not UTF-8)
are left out of what ``make_corpus`` returns.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (30, 40, 210)
# Width and height the bomb's header claims: 9e8 pixels, ten times Pillow's default limit,
# in a file of a few hundred bytes.
BOMB_SIDE = 30000
# Between Pillow's limit and twice it, where Pillow only warns: the loader must still refuse.
NEAR_BOMB_SIDE = 10000
# An EXIF block (big-endian TIFF header) whose one entry is cut short.
_BAD_EXIF = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\xff\xff\xff\xff\x00\x06"
VANISHING = "vanishing.png"  # a good file, for a test to delete between listing and reading
NOT_UTF8 = b"latin1_\xe9t\xe9.png"  # a name that is not valid UTF-8 (ext4 allows it)

# name -> "ok" (converted) or the category of the reason it is skipped for.
EXPECTED = {
    "good_1.png": "ok",
    "good_2.jpg": "ok",
    "good_3.bmp": "ok",
    "with space.png": "ok",
    "ünïcødé 画像.png": "ok",
    "new\nline.png": "ok",
    os.fsdecode(NOT_UTF8): "ok",
    "deep16.png": "ok",
    "bilevel.png": "ok",
    "cmyk.jpg": "ok",
    "progressive.jpg": "ok",
    "palette_alpha.png": "ok",
    "one_pixel.png": "ok",
    "thin_1x500.png": "ok",
    "thin_500x1.jpg": "ok",
    "animated.gif": "ok",
    "animated.webp": "ok",
    "pages.tif": "ok",
    "float.tif": "ok",
    "exif_rotated.jpg": "ok",
    "bad_exif.jpg": "ok",
    "x.jpg/inside.png": "ok",
    VANISHING: "ok",
    "empty.jpg": "empty",
    "empty.png": "empty",
    "truncated.jpg": "truncated",
    "truncated.png": "truncated",
    "scrambled.png": "corrupt",
    "text.jpg": "not an image",
    "page.jpg": "not an image",
    "bomb.png": "too large",
    "near_bomb.png": "too large",
    "dangling.png": "broken link",
    "pipe.png": "not a file",
}


def make_corpus(folder: Path) -> dict[str, str]:
    """Write the corpus into ``folder`` (created if need be); return {name: what it is}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    def save(name: str, what: str, image: Image.Image, **params) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **params)
        made[name] = what

    def write(name: str, what: str, content: bytes) -> None:
        (folder / name).write_bytes(content)
        made[name] = what

    for i, (name, fmt) in enumerate((("good_1.png", "PNG"), ("good_2.jpg", "JPEG"),
                                     ("good_3.bmp", "BMP")), start=1):  # fmt: skip
        save(name, f"a normal {fmt}", _noise(24, 20, seed=i))
    save("with space.png", "a normal PNG whose name has a space", _noise(20, 20, seed=4))
    save("ünïcødé 画像.png", "a normal PNG with a non-ASCII name", _noise(20, 20, seed=5))
    save("new\nline.png", "a normal PNG whose name holds a newline", _noise(20, 20, seed=6))
    try:
        with open(os.path.join(os.fsencode(folder), NOT_UTF8), "wb") as f:
            _noise(20, 20, seed=7).save(f, "PNG")
        made[os.fsdecode(NOT_UTF8)] = "a normal PNG whose name is not UTF-8"
    except (OSError, ValueError):  # macOS and Windows refuse such names
        pass
    save(VANISHING, "a normal PNG, for a test to delete after listing", _noise(20, 20, seed=8))

    ramp16 = np.tile(np.linspace(0, 65535, 40).astype(np.uint16), (30, 1))
    save("deep16.png", "16-bit grey (I;16), a left-to-right ramp over the whole 16-bit range",
         Image.fromarray(ramp16))  # fmt: skip
    bilevel = Image.new("1", (20, 20), 0)
    bilevel.paste(1, (10, 0, 20, 20))
    save("bilevel.png", "1-bit: black left half, white right half", bilevel)
    save("cmyk.jpg", "CMYK JPEG", Image.new("CMYK", (20, 20), (255, 0, 0, 0)))
    save("progressive.jpg", "progressive JPEG", _noise(48, 40, seed=10), progressive=True)
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([*BLUE, *RED])
    palette.paste(1, (0, 0, 10, 20))
    save("palette_alpha.png", "palette PNG, colour 0 transparent", palette, transparency=0)
    save("one_pixel.png", "a 1x1 picture", Image.new("RGB", (1, 1), GREEN))
    save("thin_1x500.png", "1 pixel wide, 500 tall", _noise(1, 500, seed=11))
    save("thin_500x1.jpg", "500 pixels wide, 1 tall (JPEG)", _noise(500, 1, seed=12))

    frames = [Image.new("RGB", (20, 20), RED), Image.new("RGB", (20, 20), BLUE)]
    save("animated.gif", "animated GIF, 2 frames: red then blue", frames[0],
         save_all=True, append_images=frames[1:], duration=100, loop=0)  # fmt: skip
    try:
        save("animated.webp", "animated WebP, 2 frames: red then blue", frames[0],
             save_all=True, append_images=frames[1:], duration=100, lossless=True)  # fmt: skip
    except (OSError, ValueError, KeyError):  # a Pillow built without WebP
        pass
    save("pages.tif", "TIFF with 2 pages: red then blue", frames[0],
         save_all=True, append_images=frames[1:])  # fmt: skip
    save("float.tif", "32-bit float grey (mode F), a ramp from 0 to 1",
         Image.fromarray(np.tile(np.linspace(0, 1, 40, dtype=np.float32), (30, 1))))  # fmt: skip
    sideways, params = _sideways()
    save("exif_rotated.jpg", "stored sideways with EXIF orientation 6; upright its left half "
         "is red and its right half green", sideways, **params)  # fmt: skip
    save("bad_exif.jpg", "a JPEG whose EXIF block ends mid-entry (Pillow warns about it)",
         _noise(20, 20, seed=16), exif=_BAD_EXIF)  # fmt: skip
    save("x.jpg/inside.png", "a normal PNG inside a folder named x.jpg", _noise(20, 20, seed=13))

    write("empty.jpg", "0 bytes", b"")
    write("empty.png", "0 bytes", b"")
    jpeg, png = _encoded(_noise(64, 64, seed=14), "JPEG"), _encoded(_noise(64, 64, seed=15), "PNG")
    write("truncated.jpg", "the first half of a JPEG", jpeg[: len(jpeg) // 2])
    write("truncated.png", "the first half of a PNG", png[: len(png) // 2])
    write("scrambled.png", "a PNG whose compressed pixels are scrambled", _scrambled(png))
    write("text.jpg", "plain text named .jpg", b"these are notes, not a picture\n" * 4)
    write("page.jpg", "an HTML page named .jpg (a failed download)",
          b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>"
          b"<body>Forbidden</body></html>\n")  # fmt: skip
    write("bomb.png", f"a PNG header claiming {BOMB_SIDE}x{BOMB_SIDE} pixels, a few hundred "
          "bytes on disk", _claimed_png(BOMB_SIDE))  # fmt: skip
    write("near_bomb.png", f"a PNG header claiming {NEAR_BOMB_SIDE}x{NEAR_BOMB_SIDE} pixels "
          "(above Pillow's limit, below twice it)", _claimed_png(NEAR_BOMB_SIDE))  # fmt: skip
    (folder / "dangling.png").symlink_to(folder / "no such file.png")
    made["dangling.png"] = "a symbolic link to a file that does not exist"
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")  # opening it for reading would wait for a writer
        made["pipe.png"] = "a named pipe (FIFO) named .png"
    made["x.jpg"] = "a folder named like an image (searched like any folder)"
    return made


def _noise(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _sideways() -> tuple[Image.Image, dict]:
    """A picture (left half red, right half green) turned a quarter, with the EXIF tag that
    tells viewers to turn it back (orientation 6: rotate 90 degrees clockwise to show)."""
    upright = Image.new("RGB", (32, 32), RED)
    upright.paste(GREEN, (16, 0, 32, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    return upright.transpose(Image.Transpose.ROTATE_90), {"exif": exif, "quality": 95}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _claimed_png(side: int) -> bytes:
    """A valid-looking PNG header for a side x side grey image with only 4 rows of data: the
    header is all a loader needs to refuse it, and a loader that decodes it anyway would have
    to allocate side * side bytes first."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    rows = zlib.compress(b"\x00" * (4 * (side + 1)), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows)


def _scrambled(png: bytes) -> bytes:
    """The PNG with 16 bytes of its compressed pixels flipped (Pillow does not check the
    checksum of pixel data, so a bad checksum alone would pass: the inflater must choke)."""
    start = png.index(b"IDAT") + 4 + 10
    return png[:start] + bytes(b ^ 0x5A for b in png[start : start + 16]) + png[start + 16 :]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tests/fuzz_corpus.py OUT_DIR", file=sys.stderr)
        return 2
    for name, what in make_corpus(Path(args[0])).items():
        print(f"{name!r}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
