"""Built-in per-sample writers: one prediction (batch dimension removed) → one file.

Each writer is a function ``(path, tensor)`` that writes exactly the file ``path`` (whose name
already ends with the format's extension). :data:`FORMATS` maps the names a config may use to a
:class:`Format` (extension, function, optional extra). Packages that only some users need (nibabel,
itk, imageio) are imported inside the writer, so a missing one costs nothing until it is used and
then fails with :class:`~lighter.errors.MissingDependencyError` naming the pip extra.

Conventions (channel-first tensors, as MONAI and torchvision produce them):

- ``tensor`` (.pt): ``torch.save`` of the CPU tensor (a MONAI ``MetaTensor`` is saved as a plain
  tensor so that ``torch.load(..., weights_only=True)`` can read it back).
- ``image`` (.png): ``(H, W)`` or ``(1, H, W)`` grayscale, ``(3, H, W)`` RGB. Pixel values:
  ``uint8`` as is; ``bool`` → 0/255; other integers (label maps) kept as values when they lie in
  0..255 (so class ids survive a round trip), an error otherwise; floats within [0, 1] → ×255 rounded,
  any other float range → min-max scaled to 0..255 (a constant image → 0).
- ``nifti`` / ``itk_nifti`` (.nii.gz, nibabel): a singleton channel is dropped, several channels
  are moved last; the affine of a ``MetaTensor`` is kept (identity otherwise); ``bool`` is stored as
  uint8 and int64 as int32 when the values fit (many tools cannot read int64 NIfTI). Compressed at
  gzip level 1 with ISA-L (the ``isal`` package, part of the ``nifti`` extra), or zlib without it.
- ``itk_nrrd`` (.nrrd) / ``itk_seg_nrrd`` (.seg.nrrd, via itk): same layout as NIfTI, with spacing,
  origin and direction taken from the affine (converted from MONAI's RAS to ITK's LPS).
- ``video`` (.mp4, imageio + imageio-ffmpeg): ``(C, T, H, W)`` with C 1 or 3, scaled like ``image``.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from typing import Any, Protocol

from lighter.errors import MissingDependencyError, WriterError

__all__ = [
    "SampleFileWriter",
    "Format",
    "FORMATS",
    "to_uint8",
    "write_tensor",
    "write_image",
    "gzip_bytes",
    "write_nifti",
    "write_itk",
    "write_video",
]


class SampleFileWriter(Protocol):
    """Writes one sample's prediction (no batch dimension) to ``path``."""

    def __call__(self, path: Any, tensor: Any) -> None: ...


@dataclass(frozen=True)
class Format:
    """A built-in writer: the file extension it produces and the function that writes it."""

    extension: str
    write: SampleFileWriter


def _require(module: str, extra: str, writer: str) -> Any:
    """Import an optional package, or explain how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:  # also covers sys.modules[module] = None
        raise MissingDependencyError(
            f"the '{writer}' writer needs the package '{module}', which is not installed",
            suggestion=f"pip install 'lighter[{extra}]'",
        ) from e


def _plain(tensor: Any) -> Any:
    """Detach to a plain CPU ``torch.Tensor`` (drops MONAI metadata, which ``torch.load`` would refuse)."""
    tensor = tensor.detach().cpu()
    return tensor.as_tensor() if hasattr(tensor, "as_tensor") else tensor


def to_uint8(tensor: Any, writer: str) -> Any:
    """Map pixel values to ``uint8`` following the rules in the module docstring."""
    import torch

    if tensor.dtype == torch.uint8:
        return tensor
    if tensor.dtype == torch.bool:
        return tensor.to(torch.uint8) * 255
    if not tensor.is_floating_point():
        low, high = int(tensor.min()), int(tensor.max())
        if low < 0 or high > 255:
            raise WriterError(
                f"the '{writer}' writer got integer values in [{low}, {high}], which do not fit 0..255",
                suggestion="scale the prediction, or use the 'tensor' or 'nifti' writer",
            )
        return tensor.to(torch.uint8)
    tensor = tensor.float()
    low, high = float(tensor.min()), float(tensor.max())
    if low < 0.0 or high > 1.0:  # outside [0, 1]: stretch the range actually present
        tensor = (tensor - low) / (high - low) if high > low else torch.zeros_like(tensor)
    return (tensor * 255).round().to(torch.uint8)


def write_tensor(path: str, tensor: Any) -> None:
    """Save the tensor with ``torch.save``, holding only its own elements."""
    import torch

    tensor = _plain(tensor)
    if tensor.untyped_storage().nbytes() != tensor.element_size() * tensor.numel():
        tensor = tensor.clone()  # a view of the batch: torch.save would store the whole batch
    # Serialized in memory first: torch's own file writer turns a full disk into a RuntimeError
    # without the OS reason, a Python file keeps it (OSError ENOSPC / EFBIG).
    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    with open(path, "wb") as handle:
        handle.write(buffer.getbuffer())


def write_image(path: str, tensor: Any) -> None:
    """Save a 2D grayscale or RGB tensor as PNG with Pillow."""
    from PIL import Image

    tensor = _plain(tensor)
    if tensor.ndim == 3 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if not (tensor.ndim == 2 or (tensor.ndim == 3 and tensor.shape[0] == 3)):
        raise WriterError(
            f"the 'image' writer needs a (H, W), (1, H, W) or (3, H, W) tensor, got shape {tuple(tensor.shape)}"
        )
    pixels = to_uint8(tensor, "image")
    if pixels.ndim == 3:
        pixels = pixels.permute(1, 2, 0)  # Pillow wants channels last
    Image.fromarray(pixels.contiguous().numpy()).save(path, format="PNG")


def _spatial_array(tensor: Any) -> Any:
    """Channel-first tensor → numpy array with the channel dropped (one) or moved last (several)."""
    import numpy as np

    array = _plain(tensor).numpy()
    if array.ndim >= 3 and array.shape[0] == 1:
        array = array[0]
    elif array.ndim == 4:
        array = np.moveaxis(array, 0, -1)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif (
        array.dtype == np.int64
        and array.size
        and np.iinfo(np.int32).min <= array.min() <= array.max() <= np.iinfo(np.int32).max
    ):
        array = array.astype(np.int32)
    return array


def _affine(tensor: Any) -> Any:
    """The 4×4 affine of a MONAI ``MetaTensor`` (a 2D one is embedded), else the identity."""
    import numpy as np

    affine = getattr(tensor, "affine", None)
    if affine is None:
        return np.eye(4)
    affine = np.asarray(affine.detach().cpu(), dtype=np.float64)
    if affine.shape == (4, 4):
        return affine
    full = np.eye(4)
    rank = affine.shape[0] - 1  # e.g. a 3×3 affine of 2D spatial data
    full[:rank, :rank] = affine[:rank, :rank]
    full[:rank, 3] = affine[:rank, rank]
    return full


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` at level 1 (nibabel's own default), with ISA-L when ``isal`` is installed.

    ISA-L's gzip is an order of magnitude faster than zlib's at the same level, with files as
    small; both give standard gzip that every reader opens. The header's time stamp is fixed, so
    one prediction always gives the same bytes.
    """
    try:
        from isal import igzip as gzip_module
    except ImportError:
        import gzip as gzip_module
    return gzip_module.compress(data, 1, mtime=0)


def write_nifti(path: str, tensor: Any) -> None:
    """Save as NIfTI with nibabel, keeping a ``MetaTensor``'s affine (gzipped for ``.gz``)."""
    nibabel = _require("nibabel", "nifti", "nifti")
    array = _spatial_array(tensor)
    image = nibabel.Nifti1Image(array, _affine(tensor), dtype=array.dtype)
    data = image.to_bytes()  # header and voxels of a single-file .nii
    if str(path).endswith(".gz"):
        data = gzip_bytes(data)
    with open(path, "wb") as handle:
        handle.write(data)


def write_itk(path: str, tensor: Any) -> None:
    """Save with ITK (format from the extension: .nrrd, .seg.nrrd), geometry from the affine."""
    import numpy as np

    itk = _require("itk", "itk", "itk_nrrd/itk_seg_nrrd")
    array = _spatial_array(tensor)
    spatial = min(array.ndim, 3)
    is_vector = array.ndim > spatial
    # ITK indexes numpy arrays as (z, y, x): reverse the spatial axes so that axis 0 stays x.
    order = list(reversed(range(spatial))) + ([spatial] if is_vector else [])
    image = itk.image_from_array(np.ascontiguousarray(array.transpose(order)), is_vector=is_vector)
    affine = _affine(tensor)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # RAS (MONAI, NIfTI) → LPS (ITK)
    linear = affine[:spatial, :spatial]
    spacing = np.linalg.norm(linear, axis=0)
    spacing[spacing == 0] = 1.0
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(affine[:spatial, 3].tolist())
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(linear / spacing)))
    itk.imwrite(image, path, compression=True)


def write_video(path: str, tensor: Any) -> None:
    """Save a ``(C, T, H, W)`` tensor (C 1 or 3) as an MP4 video."""
    imageio = _require("imageio.v2", "video", "video")
    _require("imageio_ffmpeg", "video", "video")
    tensor = _plain(tensor)
    if tensor.ndim != 4 or tensor.shape[0] not in (1, 3):
        raise WriterError(
            f"the 'video' writer needs a (C, T, H, W) tensor with C 1 or 3, got shape {tuple(tensor.shape)}"
        )
    frames = to_uint8(tensor, "video").expand(3, -1, -1, -1).permute(1, 2, 3, 0)  # → (T, H, W, RGB)
    imageio.mimwrite(path, list(frames.contiguous().numpy()), format="FFMPEG", fps=24)


FORMATS: dict[str, Format] = {
    "tensor": Format(".pt", write_tensor),
    "image": Format(".png", write_image),
    "nifti": Format(".nii.gz", write_nifti),
    "itk_nifti": Format(".nii.gz", write_nifti),
    "itk_nrrd": Format(".nrrd", write_itk),
    "itk_seg_nrrd": Format(".seg.nrrd", write_itk),
    "video": Format(".mp4", write_video),
}
