"""The plate detector's network (PyTorch, for training and export): a MobileNet-like encoder of
depthwise-separable blocks down to 1/32 and a light FPN back up to 1/4, where one logit a pixel
says "plate core". Fully convolutional: trained on square crops, run on whole frames."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

# output channels of the encoder's stages at 1/4, 1/8, 1/16, 1/32; the decoder's width
STAGES = (24, 48, 80, 128)
DECODER = 32


def _conv(
    inputs: int, outputs: int, kernel: int = 3, stride: int = 1, groups: int = 1
) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


def _separable(inputs: int, outputs: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(_conv(inputs, inputs, 3, stride, inputs), _conv(inputs, outputs, 1))


class PlateNet(nn.Module):
    def __init__(self, stages: tuple[int, ...] = STAGES, decoder: int = DECODER) -> None:
        super().__init__()
        s4, s8, s16, s32 = stages
        self.stem = _conv(3, 16, 3, 2)
        self.down4 = nn.Sequential(_separable(16, s4, 2), _separable(s4, s4))
        self.down8 = nn.Sequential(_separable(s4, s8, 2), _separable(s8, s8))
        self.down16 = nn.Sequential(
            _separable(s8, s16, 2), _separable(s16, s16), _separable(s16, s16)
        )
        self.down32 = nn.Sequential(_separable(s16, s32, 2), _separable(s32, s32))
        self.lateral = nn.ModuleList(nn.Conv2d(c, decoder, 1) for c in stages)
        self.smooth = nn.ModuleList(_separable(decoder, decoder) for _ in range(3))
        self.head = nn.Sequential(_separable(decoder, decoder), nn.Conv2d(decoder, 1, 1))
        self.stages = stages
        self.decoder = decoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(batch, 3, H, W), H and W multiples of 32 -> logits (batch, 1, H / 4, W / 4)."""
        f4 = self.down4(self.stem(image))
        f8 = self.down8(f4)
        f16 = self.down16(f8)
        f32 = self.down32(f16)
        top = self.lateral[3](f32)
        for level, (feature, smooth) in enumerate(zip((f16, f8, f4), self.smooth, strict=True)):
            up = functional.interpolate(top, scale_factor=2.0, mode="nearest")
            top = smooth(self.lateral[2 - level](feature) + up)
        logits: torch.Tensor = self.head(top)
        return logits

    def describe(self) -> str:
        s4, s8, s16, s32 = self.stages
        return (
            "fully convolutional, BGR in: conv3x3/2 16; depthwise-separable (dw3x3-BN-ReLU, "
            f"pw1x1-BN-ReLU) blocks {s4}/2 x2 (1/4), {s8}/2 x2 (1/8), {s16}/2 x3 (1/16), "
            f"{s32}/2 x2 (1/32); FPN: 1x1 laterals to {self.decoder}, nearest x2 upsampling, "
            f"a separable block at 1/16, 1/8, 1/4; head: separable {self.decoder}, 1x1 -> 1 "
            "logit at 1/4 (sigmoid in the exported model); loss: BCE with 3:1 hard negatives "
            "+ dice on the plate-core map"
        )


class Probabilities(nn.Module):
    def __init__(self, model: PlateNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(image))
