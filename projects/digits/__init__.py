"""Digits: a small image-classification project on scikit-learn's 8×8 handwritten digits.

The data ships with scikit-learn, so nothing is downloaded. Experiments refer to this folder's
modules as ``project.models.DigitsCNN`` and ``project.datasets.Digits`` after ``project:`` imports it.
"""
