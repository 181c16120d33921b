#!/usr/bin/python3
"""Times PyTorch training steps (SGD momentum, cross-entropy) in a fresh process and reports the
median step time and this process's peak RSS, for bench_models.py.
Usage: torch_train_step.py lenet5|mobilenet_v2 BATCH STEPS THREADS"""
import json
import sys
import time

import torch
import torch.nn as nn
import torchvision

name, batch, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
if name == "lenet5":
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    x = torch.randn(batch, 1, 28, 28)
else:
    net = torchvision.models.mobilenet_v2(weights=None)
    x = torch.randn(batch, 3, 224, 224)
y = torch.randint(0, 10, (batch,))
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
net.train()
times = []
for i in range(steps + 2):
    t0 = time.perf_counter()
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
    if i >= 2:
        times.append((time.perf_counter() - t0) * 1e3)
times.sort()
hwm = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm = float(line.split()[1]) / 1024
print(json.dumps({"median_ms": times[len(times) // 2], "rss_mb": hwm}))
