"""Batched training augmentation with kornia, run on the training device.

The original design's list: rotation and affine jitter, brightness/contrast jitter, random erasing,
plus horizontal flip (expressions are left-right symmetric). Input and output: float N x 1 x S x S in [0, 1].

"light" is for the last epochs of a fine-tune: the faces the model is scored on are upright, unoccluded crops, so
the strong jitter that teaches robustness also spends capacity on faces it never meets (the "turn the heavy
augmentation off at the end" practice of detector training).
"""
from __future__ import annotations

import kornia.augmentation as K
from torch import nn

AUGMENTATIONS = ("standard", "light")


def build_augmentation(strength: str = "standard") -> nn.Module:
    if strength not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {strength!r}: one of {AUGMENTATIONS}")
    if strength == "light":
        return K.AugmentationSequential(
            K.RandomHorizontalFlip(p=0.5),
            K.RandomAffine(degrees=5, translate=(0.04, 0.04), scale=(0.95, 1.05), p=0.5),
            K.ColorJiggle(brightness=0.1, contrast=0.1, p=0.5),
        )
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(p=0.5),
        # Rotation and affine in one warp: one resampling keeps the 48x48 faces sharper than two.
        K.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.85, 1.15), shear=8, p=0.9),
        K.ColorJiggle(brightness=0.3, contrast=0.3, p=0.8),
        K.RandomErasing(scale=(0.02, 0.15), ratio=(0.3, 3.3), p=0.5),
    )
