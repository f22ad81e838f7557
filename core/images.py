"""Loading and checking images (the sample photo and user uploads) with Pillow, OpenCV and NumPy.

Pillow reads the header (format, size, mode) first, so size limits are checked before any pixel
is decoded.

No Streamlit here: the Convolution and Predict pages both call `load_image_bytes`, and the tests
call it directly.

Every failure is an `ImageError` (a `ValueError`) whose message is one clear sentence in English;
`code` and `details` let a page show the same sentence in the user's language.
"""
from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import BmpImagePlugin, Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from core.heavy import BusyError, heavy_slot, run_heavy
from core.limits import Limits
from core.limits import current as current_limits

MAX_BYTES = Limits().max_image_bytes  # the default; the server's is core.limits.current()
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
    "busy": "The server is busy reading other visitors' files; try again in a minute.",
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


# Pillow's reader class per format. Constructing one reads and checks the header only. (Image.open
# would add Pillow's own decompression-bomb check, which warns on stderr from 89 M pixels and
# refuses without saying the size from 179 M: this module's pixel limit is checked instead.)
_READERS = {"PNG": PngImagePlugin.PngImageFile, "JPEG": JpegImagePlugin.JpegImageFile,
            "WebP": WebPImagePlugin.WebPImageFile, "BMP": BmpImagePlugin.BmpImageFile}
# Pillow modes a PNG/JPEG/WebP/BMP decodes to, and how to turn each into RGB uint8 (below).
_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
          "I", "I;16", "I;16B", "I;16L", "F"}
# Pillow's decoders report damage with any of these.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError,
                  KeyError, ZeroDivisionError, Image.DecompressionBombError, MemoryError)


def _open(data: bytes) -> tuple[str, Image.Image]:
    """The sniffed format and Pillow's lazily opened image: only the header is read so far."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("not_image")
    try:
        img = _READERS[fmt](io.BytesIO(data))
    except _DECODE_ERRORS:
        raise ImageError("corrupt", format=fmt) from None
    if img.mode not in _MODES or img.width <= 0 or img.height <= 0:
        raise ImageError("corrupt", format=fmt)
    return fmt, img


def header_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) read by Pillow from the header alone, before any pixel is decoded.

    Lets huge images be refused without allocating their pixels.
    """
    fmt, img = _open(data)
    return fmt, img.width, img.height


def _looks_truncated(data: bytes, fmt: str) -> bool:
    """Decoders accept some cut-off files (a JPEG filled with grey, a PNG without its end);
    catch the missing end marker. WebP and BMP are cut off only if shorter than they declare."""
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


def _pillow_to_rgb(img: Image.Image, close: bool = True) -> np.ndarray:
    """A decoded Pillow image as H×W×3 RGB uint8, in 8-bit steps (no float copies): a 16-bit
    RGBA PNG is decoded by Pillow at 8 bits per channel, 4 bytes a pixel."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        grey = np.asarray(img)
        if img.mode == "F":
            grey = np.clip(grey, 0, 255).astype(np.uint8)
        else:  # 16-bit grey: keep the top 8 bits
            grey = (np.clip(grey, 0, 65535).astype(np.uint32) >> 8).astype(np.uint8)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    # A crop of a palette image keeps its palette and "transparency" entry.
    has_alpha = img.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        # Transparent pixels are laid on white, as a browser shows them on a light page.
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, (0, 0), rgba)
        del rgba
    else:
        rgb = img.convert("RGB")
    if close:
        img.close()
    out = np.asarray(rgb)
    del rgb
    return out if out.flags.writeable else out.copy()


def check_image_size(size: int, limits: Limits | None = None) -> None:
    """ImageError ("empty" or "too_many_bytes") for an upload of `size` bytes.

    Callable with an uploaded file's declared size, before its bytes are read or copied."""
    limits = current_limits() if limits is None else limits
    if size <= 0:
        raise ImageError("empty")
    if limits.max_image_bytes is not None and size > limits.max_image_bytes:
        max_mb = limits.max_image_bytes / 2**20
        raise ImageError("too_many_bytes", size_mb=size / 2**20,
                         max_mb=int(max_mb) if max_mb.is_integer() else round(max_mb, 2))


def load_image_bytes(data: bytes, limits: Limits | None = None, max_side: int | None = None,
                     grey: bool = False) -> np.ndarray:
    """Decode a PNG, JPEG, WebP or BMP file's bytes into an H×W×3 RGB uint8 array (H×W with
    `grey`), its longer side at most `max_side` when given.

    Pass the size the page needs: the image is then decoded that small as early as its format
    allows (a JPEG's DCT scaling), and any other format is reduced band by band while still
    8-bit, so the largest accepted file costs one decoded 8-bit copy plus a small one, not the
    several full-size RGB and float copies that shrinking afterwards needs. Decodes share a
    small budget with checkpoint loads (core.heavy).

    Raises ImageError (one sentence) when the file is empty, over this server's size limit
    (CNN_LAB_MAX_IMAGE_MB, 20 MB), not one of those formats, larger than 4096×4096 or than
    CNN_LAB_MAX_IMAGE_PIXELS pixels (read from the header, before any pixel is decoded), or damaged.
    """
    limits = current_limits() if limits is None else limits
    data = bytes(data)
    check_image_size(len(data), limits)
    fmt, img = _open(data)
    width, height = img.size
    max_pixels = MAX_SIDE * MAX_SIDE if limits.max_image_pixels is None else limits.max_image_pixels
    if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
        raise ImageError("too_many_pixels", width=width, height=height,
                         max_side=min(MAX_SIDE, math.isqrt(max_pixels)), max_pixels=max_pixels)
    if _looks_truncated(data, fmt):
        raise ImageError("corrupt", format=fmt)
    try:
        with heavy_slot():   # the budget; the CPU work on a niced heavy-work thread (core.heavy)
            return run_heavy(_decode, img, data, fmt, max_side, grey)
    except BusyError:
        raise ImageError("busy") from None
    except _DECODE_ERRORS:
        raise ImageError("corrupt", format=fmt) from None
    finally:
        img.close()


def _decode(img: Image.Image, data: bytes, fmt: str, max_side: int | None, grey: bool) -> np.ndarray:
    if fmt == "WebP" and (max_side is not None or grey):
        return _reduced_webp(data, max_side, grey, fmt)
    if max_side is not None and fmt == "JPEG":
        img.draft("L" if grey else "RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8
    img.load()
    if max_side is None and not grey:
        return _pillow_to_rgb(img)
    return _reduced(img, max_side, grey)


_BAND_ROWS = 256   # rows converted at a time: a band of a 4096-wide image is ≤ 4 MB as RGBA


def _reduced(img: Image.Image, max_side: int | None, grey: bool) -> np.ndarray:
    """A decoded image as RGB (or grey) uint8, shrunk so its longer side is `max_side`.

    Band by band: each band of rows is converted to 8-bit RGB on white (as `_pillow_to_rgb`),
    then reduced by a whole factor (box average) into the output, so no full-size RGB, RGBA or
    float copy exists next to the decoded image. The last step to exactly `max_side` is OpenCV's
    area averaging, as `fit_within` does."""
    w, h = img.size
    factor = 1 if max_side is None else max(1, max(w, h) // max_side)
    band_rows = max(factor, _BAND_ROWS // factor * factor)
    out_w, out_h = -(-w // factor), -(-h // factor)
    out = np.empty((out_h, out_w) if grey else (out_h, out_w, 3), np.uint8)
    for top in range(0, h, band_rows):
        band = _pillow_to_rgb(img.crop((0, top, w, min(h, top + band_rows))), close=False)
        if grey:
            band = cv2.cvtColor(band, cv2.COLOR_RGB2GRAY)
        if factor > 1:
            band = np.asarray(Image.fromarray(band).reduce(factor))
        out[top // factor: top // factor + band.shape[0]] = band
    return out if max_side is None else fit_within(out, max_side)


def _reduced_webp(data: bytes, max_side: int | None, grey: bool, fmt: str) -> np.ndarray:
    """WebP through OpenCV: Pillow's WebP decoder (an animation decoder) keeps two full canvases
    and a copy, 256 MB for a 4096×4096 file, OpenCV's one decoded array (64 MB); then band by
    band as `_reduced`."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim not in (2, 3):
        raise ImageError("corrupt", format=fmt)
    h, w = arr.shape[:2]
    factor = 1 if max_side is None else max(1, max(w, h) // max_side)
    band_rows = max(factor, _BAND_ROWS // factor * factor)
    out_h, out_w = -(-h // factor), -(-w // factor)
    out = np.empty((out_h, out_w) if grey else (out_h, out_w, 3), np.uint8)
    for top in range(0, h, band_rows):
        band = to_rgb_uint8(arr[top: top + band_rows])
        if grey:
            band = cv2.cvtColor(band, cv2.COLOR_RGB2GRAY)
        if factor > 1:
            band = np.asarray(Image.fromarray(band).reduce(factor))
        out[top // factor: top // factor + band.shape[0]] = band
    del arr
    return out if max_side is None else fit_within(out, max_side)


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
    """PNG bytes of an RGB, RGBA (transparency kept) or grey uint8 array."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA if img.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
