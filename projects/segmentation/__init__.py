"""Segmentation: a MONAI 2D segmentation project on synthetic images generated at run time.

Each sample is a noisy 2D image with a few bright discs and the matching binary mask, drawn with
``monai.data.create_test_image_2d`` from a fixed seed, so nothing is downloaded and every run sees
the same data. Experiments refer to ``project.datasets.SyntheticDiscs`` after ``project:`` imports
this folder.
"""
