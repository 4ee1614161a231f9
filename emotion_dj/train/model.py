"""CustomDeepEmotionNet: a VGG-style CNN for facial-expression recognition.

Five convolutional blocks (Conv -> BatchNorm -> ReLU, repeated, then MaxPool) and global average
pooling instead of large fully-connected layers. Every hyper-parameter sits in the constructor.

`DeployableEmotionNet` wraps a trained network with the model contract of DESIGN.md: uint8 grayscale
faces in, temperature-calibrated probabilities out. Export and the torch engine both use it, so the
normalisation and the temperature exist in exactly one place.
"""
from __future__ import annotations

import torch
from torch import nn

DEFAULT_WIDTHS = (48, 96, 192, 256, 320)
DEFAULT_ARCHITECTURE = "CustomDeepEmotionNet"  # what checkpoints without an "architecture" key hold

# Checkpoints name their network; this registry turns the name back into the class (as timm's does).
ARCHITECTURES: dict[str, type[nn.Module]] = {}


def register_architecture(cls: type[nn.Module]) -> type[nn.Module]:
    ARCHITECTURES[cls.__name__] = cls
    return cls


def create_model(architecture: str, **config) -> nn.Module:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{architecture}' (known: {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[architecture](**config)


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ConvBlock(nn.Sequential):
    """`convs` x (Conv3x3 -> BN -> ReLU), then an optional 2x2 max-pool."""

    def __init__(self, in_channels: int, out_channels: int, convs: int, pool: bool):
        layers = [conv_bn_relu(in_channels if i == 0 else out_channels, out_channels) for i in range(convs)]
        if pool:
            layers.append(nn.MaxPool2d(2))
        super().__init__(*layers)


@register_architecture
class CustomDeepEmotionNet(nn.Module):
    def __init__(
        self,
        img_size: int = 48,
        num_classes: int = 7,
        in_channels: int = 1,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        convs_per_block: int = 2,
        dropout: float = 0.3,
    ):
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"CustomDeepEmotionNet has 5 blocks; got {len(widths)} widths")
        if img_size < 32 or img_size % 16:
            raise ValueError(f"img_size must be a multiple of 16 and >= 32, got {img_size}")
        self.img_size = img_size
        self.num_classes = num_classes
        # The first four blocks halve the resolution (48 -> 3, 128 -> 8); the fifth works at that
        # resolution and global average pooling summarises it, so the head is one small Linear layer.
        channels = (in_channels, *widths)
        self.features = nn.Sequential(
            *[ConvBlock(channels[i], channels[i + 1], convs_per_block, pool=i < 4) for i in range(5)]
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(widths[-1], num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float N x 1 x S x S, already normalised. Returns logits N x num_classes."""
        return self.head(self.pool(self.features(x)))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class DeployableEmotionNet(nn.Module):
    """uint8 faces N x 1 x S x S -> softmax(logits / temperature), the exported model contract.

    With flip_average, each face also runs mirrored (one batch of 2N) and the two probability rows are averaged:
    test-time augmentation inside the graph, at twice the cost per face (benchmarks/flip_average.py measures both).
    """

    def __init__(self, net: CustomDeepEmotionNet, mean: float, std: float, temperature: float, flip_average: bool = False):
        super().__init__()
        self.net = net
        self.flip_average = flip_average
        # Buffers, not Python floats, so they are visible constants in the exported graph.
        self.register_buffer("scale", torch.tensor(1.0 / (255.0 * std), dtype=torch.float32))
        self.register_buffer("shift", torch.tensor(mean / std, dtype=torch.float32))
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature, dtype=torch.float32))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        x = faces.to(self.scale.dtype) * self.scale - self.shift
        if self.flip_average:
            x = torch.cat([x, torch.flip(x, dims=(3,))])
        logits = self.net(x)
        # Softmax in float32 whatever the network's precision: an fp16 export keeps fp32 probabilities out.
        probs = torch.softmax(logits.float() * self.inv_temperature.float(), dim=1)
        if self.flip_average:
            count = faces.shape[0]
            probs = (probs[:count] + probs[count:]) * 0.5
        return probs
