"""The chart in letters converted together: laid out by LibreOffice as a stand-in, put in by us.

LibreOffice reads each letter's chart (a PNG of 1023 × 286 pixels in 160 colours), makes it 24-bit
colour and compresses its 877 KB again for the PDF: about a fifth of the time it spends on a
letter. Where a picture goes on the page and how big it is come from the document, not from the
picture; so the combined document LibreOffice converts has, in every letter's chart's place, one
small stand-in of a pattern no chart has (STAND_IN), and each letter's PDF gets its own chart in
the stand-in's place: the PNG's own compressed data as the PDF's image (PDF reads PNG's
compression and its row filters, since PDF 1.2), not decompressed or compressed again. It is
also a third smaller than LibreOffice's.

That the letters are the same is the guard's to show, as for anything else done to letters
converted together: it compares them, picture included, with letters converted alone from their
own .docx, chart and all (verify.py).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The stand-in's pixels: 5 × 3, each of its own colour, a pattern no chart is drawn in.
STAND_IN_SIZE = (5, 3)
STAND_IN_RGB = bytes(
    value
    for n in range(15)
    for value in ((n * 53 + 7) % 256, (n * 101 + 29) % 256, (n * 29 + 211) % 256)
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _stand_in() -> bytes:
    width, height = STAND_IN_SIZE
    rows = b"".join(
        b"\x00" + STAND_IN_RGB[3 * width * row : 3 * width * (row + 1)] for row in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


STAND_IN = _stand_in()


@dataclass(frozen=True)
class Png:
    """What a PDF image needs from a PNG, read without decompressing it."""

    width: int
    height: int
    colour_type: int  # 0 grey, 2 RGB, 3 palette
    palette: bytes
    data: bytes  # the IDAT chunks' zlib stream

    @classmethod
    def read(cls, png: bytes) -> Png | None:
        """The PNG, if a PDF can take its data as it is: 8 bits a sample, not interlaced, no
        transparency (tRNS) and no alpha channel."""
        if not png.startswith(PNG_SIGNATURE):
            return None
        header = b""
        palette = b""
        data = []
        for kind, body in _chunks(png):
            if kind == b"IHDR":
                header = body
            elif kind == b"PLTE":
                palette = body
            elif kind == b"IDAT":
                data.append(body)
            elif kind == b"tRNS":
                return None
        if len(header) != 13:
            return None
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
        if (
            depth != 8
            or interlace != 0
            or colour not in (0, 2, 3)
            or (colour == 3) != bool(palette)
        ):
            return None
        return cls(width, height, colour, palette, b"".join(data))

    def image(self, pdf: pikepdf.Pdf) -> pikepdf.Stream:
        colours = 3 if self.colour_type == 2 else 1
        if self.colour_type == 3:
            space: pikepdf.Object = pikepdf.Array(
                [
                    pikepdf.Name.Indexed,
                    pikepdf.Name.DeviceRGB,
                    len(self.palette) // 3 - 1,
                    pikepdf.String(self.palette),
                ]
            )
        else:
            space = pikepdf.Name.DeviceRGB if colours == 3 else pikepdf.Name.DeviceGray
        image = pikepdf.Stream(pdf, b"")
        image.write(
            self.data,
            filter=pikepdf.Name.FlateDecode,
            decode_parms=pikepdf.Dictionary(
                Predictor=15, Colors=colours, BitsPerComponent=8, Columns=self.width
            ),
        )
        image[pikepdf.Name.Type] = pikepdf.Name.XObject
        image[pikepdf.Name.Subtype] = pikepdf.Name.Image
        image[pikepdf.Name.Width] = self.width
        image[pikepdf.Name.Height] = self.height
        image[pikepdf.Name.ColorSpace] = space
        image[pikepdf.Name.BitsPerComponent] = 8
        return image


def _chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        yield png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        at += 12 + length


def is_stand_in(image: pikepdf.Object) -> bool:
    """Whether an image XObject of LibreOffice's PDF is the stand-in."""
    if not isinstance(image, pikepdf.Stream) or image.get("/Subtype") != pikepdf.Name.Image:
        return False
    if (int(image.get("/Width", 0)), int(image.get("/Height", 0))) != STAND_IN_SIZE:
        return False
    try:
        if (
            image.get("/ColorSpace") == pikepdf.Name.DeviceRGB
            and image.get("/BitsPerComponent") == 8
            and image.get("/Filter") in (None, pikepdf.Name.FlateDecode)
            and not any(key in image for key in ("/Decode", "/DecodeParms", "/SMask"))
        ):
            return image.read_bytes() == STAND_IN_RGB  # as LibreOffice writes it: its pixels
        return (
            bytes(pikepdf.PdfImage(image).as_pil_image().convert("RGB").tobytes()) == STAND_IN_RGB
        )
    except (pikepdf.PdfError, NotImplementedError, ValueError, OSError):
        return False


def put_in(pdf: pikepdf.Pdf, png: bytes) -> bool:
    """Put the chart `png` in place of the stand-in on every page of `pdf` (a letter's, whose
    pages have resources of their own); whether the stand-in was there to put it in."""
    chart = Png.read(png)
    if chart is None:
        return False
    image: pikepdf.Stream | None = None
    found = False
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        pictures = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(pictures, pikepdf.Dictionary):
            continue
        for name, picture in list(pictures.items()):
            if is_stand_in(picture):
                image = image if image is not None else pdf.make_indirect(chart.image(pdf))
                pictures[name] = image
                found = True
    return found
