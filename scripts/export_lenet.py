#!/usr/bin/python3
"""Exports a LeNet-5 from PyTorch to ONNX (opset 13) plus an input batch and PyTorch's output,
for the demo. Usage: export_lenet.py OUT_DIR"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)).eval()
x = torch.randn(1, 1, 32, 32)
torch.onnx.export(net, x, os.path.join(out, "lenet5.onnx"), opset_version=13,
                  input_names=["input"], output_names=["logits"])
xb = torch.randn(8, 1, 32, 32)
np.save(os.path.join(out, "x.npy"), xb.numpy())
with torch.no_grad():
    np.save(os.path.join(out, "y_torch.npy"), net(xb).numpy())
