"""FileWriter on real predict runs: files read back equal, atomic writes, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest
import torch
from monai.data import DataLoader as MonaiDataLoader
from monai.data import MetaTensor
from PIL import Image
from tests.callbacks.helpers import run_predict

from lighter.callbacks import FileWriter
from lighter.errors import LighterError, MissingDependencyError, WriterError


def listing(folder: Path) -> list[str]:
    """Every entry of the folder, hidden ones (temporary files) included."""
    return sorted(p.name for p in folder.iterdir())


def test_tensor_writer_writes_one_file_per_sample_numbered_by_dataset_index(tmp_path, images):
    trainer, result = run_predict([FileWriter(tmp_path, "tensor")], images, batch_size=3)

    assert listing(tmp_path) == sorted(f"{i}.pt" for i in range(10))
    for i, image in enumerate(images):
        assert torch.equal(torch.load(tmp_path / f"{i}.pt", weights_only=True), image)
    # the writer switched off Lightning's in-memory copy of every output
    assert result is None
    assert trainer.predict_loop.return_predictions is False


def test_identifiers_come_from_dict_batches_through_the_batch_adapter(tmp_path, images):
    items = [{"input": image, "case": f"case-{i:02d}"} for i, image in enumerate(images)]

    run_predict([FileWriter(tmp_path, "tensor")], items, identifier_key="case")

    assert listing(tmp_path) == [f"case-{i:02d}.pt" for i in range(10)]
    assert torch.equal(torch.load(tmp_path / "case-07.pt", weights_only=True), images[7])


def test_identifiers_with_path_separators_stay_inside_the_folder(tmp_path, images):
    items = [{"input": images[0], "case": "../escape"}, {"input": images[1], "case": "a\\b/c"}]

    run_predict([FileWriter(tmp_path / "out", "tensor")], items, identifier_key="case")

    assert listing(tmp_path) == ["out"]
    assert listing(tmp_path / "out") == [".._escape.pt", "a_b_c.pt"]


@pytest.mark.parametrize(
    "image, expected",
    [
        pytest.param(
            torch.tensor([[0, 7], [200, 255]], dtype=torch.uint8), [[0, 7], [200, 255]], id="uint8-as-is"
        ),
        pytest.param(
            torch.tensor([[[0.0, 0.5], [0.25, 1.0]]]), [[0, 128], [64, 255]], id="float-0-1-times-255"
        ),
        pytest.param(
            torch.tensor([[-1.0, 0.0], [1.0, 3.0]]), [[0, 64], [128, 255]], id="float-range-min-max"
        ),
        pytest.param(
            torch.tensor([[True, False], [False, True]]), [[255, 0], [0, 255]], id="bool-mask-0-255"
        ),
        pytest.param(torch.tensor([[0, 1], [2, 3]]), [[0, 1], [2, 3]], id="label-map-values-kept"),
        pytest.param(torch.full((2, 2), 5.0), [[0, 0], [0, 0]], id="constant-float-zero"),
    ],
)
def test_image_writer_grayscale_pixels(tmp_path, image, expected):
    run_predict([FileWriter(tmp_path, "image")], [image])

    with Image.open(tmp_path / "0.png") as png:
        assert png.mode == "L"
        assert np.asarray(png).tolist() == expected


def test_image_writer_rgb_is_channel_first(tmp_path):
    rgb = torch.randint(0, 256, (3, 4, 6), dtype=torch.uint8)

    run_predict([FileWriter(tmp_path, "image")], [rgb])

    with Image.open(tmp_path / "0.png") as png:
        assert png.mode == "RGB"
        assert np.array_equal(np.asarray(png), rgb.permute(1, 2, 0).numpy())


@pytest.mark.parametrize(
    "image, first_line",
    [
        pytest.param(
            torch.zeros(2, 4, 4),
            "the 'image' writer needs a (H, W), (1, H, W) or (3, H, W) tensor, got shape (2, 4, 4)",
            id="two-channels",
        ),
        pytest.param(
            torch.tensor([[0, 300]]),
            "the 'image' writer got integer values in [0, 300], which do not fit 0..255 "
            "(scale the prediction, or use the 'tensor' or 'nifti' writer)",
            id="labels-above-255",
        ),
    ],
)
def test_image_writer_refuses_what_it_cannot_write(tmp_path, image, first_line):
    with pytest.raises(WriterError) as info:
        run_predict([FileWriter(tmp_path, "image")], [image])
    assert (
        str(info.value).splitlines()[0] == f"FileWriter could not write '0' to {tmp_path}/0.png: {first_line}"
    )
    assert listing(tmp_path) == []


def test_nifti_writer_keeps_the_metatensor_affine(tmp_path):
    volumes = [torch.rand(1, 4, 5, 6) for _ in range(3)]
    affines = [torch.diag(torch.tensor([0.5 + i, 2.0, 3.0, 1.0], dtype=torch.float64)) for i in range(3)]
    for i, affine in enumerate(affines):
        affine[:3, 3] = torch.tensor([10.0 * i, -5.0, 1.0], dtype=torch.float64)
    items = [
        {"input": MetaTensor(v, affine=a), "case": f"case{i}"}
        for i, (v, a) in enumerate(zip(volumes, affines, strict=True))
    ]

    run_predict(
        [FileWriter(tmp_path, "nifti")], items, identifier_key="case", batch_size=2, loader=MonaiDataLoader
    )

    assert listing(tmp_path) == ["case0.nii.gz", "case1.nii.gz", "case2.nii.gz"]
    for i in range(3):
        image = nibabel.load(tmp_path / f"case{i}.nii.gz")
        assert np.allclose(image.affine, affines[i].numpy())
        assert np.array_equal(image.get_fdata(dtype=np.float32), volumes[i][0].numpy())


def test_nifti_alias_writes_integer_labels_as_int32_with_identity_affine(tmp_path):
    labels = torch.randint(0, 4, (1, 3, 3, 2))

    run_predict([FileWriter(tmp_path, "itk_nifti")], [labels])

    image = nibabel.load(tmp_path / "0.nii.gz")
    assert image.get_data_dtype() == np.int32
    assert np.array_equal(np.asarray(image.dataobj), labels[0].numpy())
    assert np.array_equal(image.affine, np.eye(4))


def test_custom_callable_adds_its_own_extension(tmp_path, images):
    def save_numpy(path, tensor):
        np.save(f"{path}.npy", tensor.numpy())

    run_predict([FileWriter(tmp_path, save_numpy)], images[:3])

    assert listing(tmp_path) == ["0.npy", "1.npy", "2.npy"]
    assert np.array_equal(np.load(tmp_path / "2.npy"), images[2].numpy())


def test_a_writer_failing_midway_leaves_no_partial_or_temporary_file(tmp_path, images):
    def half_then_fail(path, tensor):
        with open(f"{path}.bin", "wb") as handle:
            handle.write(b"half of a file")
            raise OSError("disk full")

    with pytest.raises(WriterError) as info:
        run_predict([FileWriter(tmp_path, half_then_fail)], images[:1])  # one failure: a known first error

    assert str(info.value).splitlines()[0] == (
        f"FileWriter could not write '0' to {tmp_path}/0: OSError: disk full (in the writer "
        "test_a_writer_failing_midway_leaves_no_partial_or_temporary_file.<locals>.half_then_fail)"
    )
    assert listing(tmp_path) == []


def test_a_failing_rewrite_keeps_the_previous_complete_file(tmp_path, images):
    run_predict([FileWriter(tmp_path, "tensor")], images[:1])

    def fail(path, tensor):
        Path(f"{path}.pt").write_bytes(b"garbage")
        raise RuntimeError("killed")

    with pytest.raises(WriterError):
        run_predict([FileWriter(tmp_path, fail)], images[:1])

    assert listing(tmp_path) == ["0.pt"]
    assert torch.equal(torch.load(tmp_path / "0.pt", weights_only=True), images[0])


def test_a_writer_that_writes_nothing_is_an_error(tmp_path, images):
    with pytest.raises(WriterError) as info:
        run_predict([FileWriter(tmp_path, lambda path, tensor: None)], images[:1])
    assert str(info.value).splitlines()[0] == (
        f"FileWriter could not write '0' to {tmp_path}/0: the writer created no file"
    )


@pytest.mark.parametrize(
    "writer, first_line",
    [
        pytest.param("nifty", "unknown writer 'nifty' (did you mean 'nifti'?)", id="typo"),
        pytest.param(
            "hdf5",
            "unknown writer 'hdf5' (choose one of tensor, image, nifti, itk_nifti, itk_nrrd, itk_seg_nrrd, video)",
            id="far-off",
        ),
        pytest.param(
            3, "FileWriter's writer must be a writer name or a callable, got int", id="not-callable"
        ),
    ],
)
def test_bad_writer_is_refused_at_construction(tmp_path, writer, first_line):
    with pytest.raises(LighterError) as info:
        FileWriter(tmp_path, writer)
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize(
    "writer, module, first_line",
    [
        pytest.param(
            "itk_nrrd",
            "itk",
            "the 'itk_nrrd/itk_seg_nrrd' writer needs the package 'itk', which is not installed (pip install 'lighter[itk]')",
            id="itk",
        ),
        pytest.param(
            "nifti",
            "nibabel",
            "the 'nifti' writer needs the package 'nibabel', which is not installed (pip install 'lighter[nifti]')",
            id="nibabel",
        ),
        pytest.param(
            "video",
            "imageio",
            "the 'video' writer needs the package 'imageio.v2', which is not installed (pip install 'lighter[video]')",
            id="video",
        ),
    ],
)
def test_missing_optional_package_says_how_to_install_it(tmp_path, monkeypatch, writer, module, first_line):
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, f"{module}.v2", None)
    video = torch.zeros(1, 1, 2, 4, 4)  # a batch of one (C, T, H, W) clip; fits every writer's shape rules

    with pytest.raises(MissingDependencyError) as info:
        run_predict([FileWriter(tmp_path, writer)], [video[0]])

    assert str(info.value).splitlines()[0] == first_line
    assert listing(tmp_path) == []


def test_video_writer_writes_readable_frames(tmp_path):
    pytest.importorskip("imageio_ffmpeg", reason="the 'video' extra is not installed")
    import imageio.v2 as imageio

    clip = torch.zeros(3, 4, 16, 16)  # (C, T, H, W)
    clip[0] = 1.0  # a red clip

    run_predict([FileWriter(tmp_path, "video")], [clip])

    frames = imageio.mimread(tmp_path / "0.mp4", format="FFMPEG")
    assert len(frames) == 4
    assert frames[0].shape == (16, 16, 3)
    red, green, blue = (float(frames[0][..., c].mean()) for c in range(3))
    assert red > 200 and green < 60 and blue < 60  # lossy codec: approximately red


@pytest.mark.parametrize("writer", ["itk_nrrd", "itk_seg_nrrd"])
def test_itk_writers_keep_voxels_and_geometry(tmp_path, writer):
    pytest.importorskip("itk", reason="the 'itk' extra is not installed")
    from monai.transforms import LoadImage

    volume = torch.randint(0, 5, (1, 4, 5, 6)).float()
    affine = torch.diag(torch.tensor([0.5, 2.0, 3.0, 1.0], dtype=torch.float64))
    affine[:3, 3] = torch.tensor([10.0, -5.0, 1.0], dtype=torch.float64)

    run_predict([FileWriter(tmp_path, writer)], [MetaTensor(volume, affine=affine)])

    suffix = ".seg.nrrd" if writer == "itk_seg_nrrd" else ".nrrd"
    assert listing(tmp_path) == [f"0{suffix}"]
    # MONAI's ITK reader gives back (x, y, z) voxels and a RAS affine: what went in must come out.
    loaded = LoadImage(reader="ITKReader", image_only=True)(str(tmp_path / f"0{suffix}"))
    assert np.array_equal(np.asarray(loaded), volume[0].numpy())
    assert np.allclose(np.asarray(loaded.affine), affine.numpy())


@pytest.mark.parametrize("isal", [pytest.param(True, id="isal"), pytest.param(False, id="zlib")])
def test_nifti_is_standard_gzip_with_or_without_isal(tmp_path, monkeypatch, isal):
    import gzip

    if not isal:
        monkeypatch.setitem(sys.modules, "isal", None)
    volume = torch.rand(1, 6, 5, 4)

    run_predict([FileWriter(tmp_path / "a", "nifti"), FileWriter(tmp_path / "b", "nifti")], [volume])

    data = (tmp_path / "a" / "0.nii.gz").read_bytes()
    assert data == (tmp_path / "b" / "0.nii.gz").read_bytes()  # same prediction, same bytes
    assert gzip.decompress(data)[344:348] == b"n+1\0"  # a single-file NIfTI-1 inside plain gzip
    image = nibabel.load(tmp_path / "a" / "0.nii.gz")
    assert np.array_equal(image.get_fdata(dtype=np.float32), volume[0].numpy())
