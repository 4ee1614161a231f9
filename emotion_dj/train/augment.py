"""Batched training augmentation with kornia, run on the training device.

The original design's list: rotation and affine jitter, brightness/contrast jitter, random erasing,
plus horizontal flip (expressions are left-right symmetric). Input and output: float N x 1 x S x S in [0, 1].
"""
from __future__ import annotations

import kornia.augmentation as K
from torch import nn


def build_augmentation() -> nn.Module:
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(p=0.5),
        # Rotation and affine in one warp: one resampling keeps the 48x48 faces sharper than two.
        K.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.85, 1.15), shear=8, p=0.9),
        K.ColorJiggle(brightness=0.3, contrast=0.3, p=0.8),
        K.RandomErasing(scale=(0.02, 0.15), ratio=(0.3, 3.3), p=0.5),
    )
