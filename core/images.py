"""Loading and checking images (the sample photo and user uploads) with OpenCV and NumPy.

No Streamlit here: the Convolution and Predict pages both call `load_image_bytes`, and the tests
call it directly.

Every failure is an `ImageError` (a `ValueError`) whose message is one clear sentence in English;
`code` and `details` let a page show the same sentence in the user's language.
"""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

MAX_BYTES = 20 * 1024 * 1024
MAX_SIDE = 4096
FORMATS = ("PNG", "JPEG", "WebP", "BMP")
EXTENSIONS = ("png", "jpg", "jpeg", "webp", "bmp")

_MESSAGES = {
    "empty": "The file is empty.",
    "too_many_bytes": "The file is {size_mb:.1f} MB; images may be at most {max_mb} MB.",
    "not_image": "This file is not a PNG, JPEG, WebP or BMP image.",
    "corrupt": "This {format} file is damaged or incomplete and cannot be read.",
    "too_many_pixels": (
        "The image is {width}×{height} pixels; images may be at most {max_side}×{max_side}."
    ),
}


class ImageError(ValueError):
    """A file that cannot be used as an image; str(error) is one human sentence (English).

    `code` is one of "empty", "too_many_bytes", "not_image", "corrupt", "too_many_pixels";
    `details` holds the numbers in the sentence, for translated messages.
    """

    def __init__(self, code: str, **details):
        self.code = code
        self.details = details
        super().__init__(_MESSAGES[code].format(**details))


def sniff_format(data: bytes) -> str | None:
    """"PNG", "JPEG", "WebP" or "BMP" from the file's first bytes (not its name), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data.startswith(b"BM") and len(data) >= 18:
        return "BMP"
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # standalone markers
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    (header,) = struct.unpack("<I", data[14:18])
    if header == 12:
        return struct.unpack("<HH", data[18:22])
    if header >= 40:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    return None


_SIZE_READERS = {"PNG": _png_size, "JPEG": _jpeg_size, "WebP": _webp_size, "BMP": _bmp_size}


def header_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) read from the header alone, before any pixel is decoded.

    Lets huge images be refused without allocating their pixels.
    """
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("not_image")
    size = _SIZE_READERS[fmt](data)
    if size is None or size[0] <= 0 or size[1] <= 0:
        raise ImageError("corrupt", format=fmt)
    return fmt, size[0], size[1]


def _looks_truncated(data: bytes, fmt: str) -> bool:
    """Decoders fill a cut-off JPEG with grey and say nothing; catch the missing end marker."""
    if fmt == "PNG":
        return b"IEND" not in data[-64:]
    if fmt == "JPEG":
        return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")
    if fmt == "WebP":
        (riff_size,) = struct.unpack("<I", data[4:8])
        return len(data) < riff_size + 8
    if fmt == "BMP":
        (offset,) = struct.unpack("<I", data[10:14])
        return len(data) <= offset
    return False


def to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """OpenCV's decoded array (grey, BGR or BGRA; 8 or 16 bit) as H×W×3 RGB uint8.

    Transparent pixels are laid on white, as a browser shows them on a light page.
    """
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        rgb = img[:, :, 2::-1].astype(np.float32)
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        return np.ascontiguousarray(rgb * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(img[:, :, 2::-1])


def load_image_bytes(data: bytes) -> np.ndarray:
    """Decode a PNG, JPEG, WebP or BMP file's bytes into an H×W×3 RGB uint8 array.

    Raises ImageError (one sentence) when the file is empty, over 20 MB, not one of those
    formats, larger than 4096×4096 pixels, or damaged.
    """
    data = bytes(data)
    if not data:
        raise ImageError("empty")
    if len(data) > MAX_BYTES:
        raise ImageError("too_many_bytes", size_mb=len(data) / 2**20, max_mb=MAX_BYTES // 2**20)
    fmt, width, height = header_size(data)
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageError("too_many_pixels", width=width, height=height, max_side=MAX_SIDE)
    if _looks_truncated(data, fmt):
        raise ImageError("corrupt", format=fmt)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageError("corrupt", format=fmt)
    return to_rgb_uint8(img)


def load_image_file(path: str | Path) -> np.ndarray:
    """`load_image_bytes` on a file from disk."""
    return load_image_bytes(Path(path).read_bytes())


def fit_within(img: np.ndarray, max_side: int) -> np.ndarray:
    """The image shrunk (area averaging) so its longer side is at most `max_side`."""
    h, w = img.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def encode_png(img: np.ndarray) -> bytes:
    """PNG bytes of an RGB (or grey) uint8 array."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
