#!/usr/bin/python3
"""Regenerates models/lenet5.onnx, the LeNet-5 the README's main job trains on MNIST: 28x28
inputs (conv1 pads by 2, as LeNet-5 on 32x32), PyTorch's default initialisation, seed 0,
opset 13, dynamic batch. Run once; the file is committed."""
import os

import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lenet5.onnx")
torch.onnx.export(net, torch.randn(32, 1, 28, 28), out, opset_version=13, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
print("wrote", out)
