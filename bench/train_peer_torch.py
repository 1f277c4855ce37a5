"""The run of ``gpugrad train --dataset synthetic`` written in PyTorch eager, for a samples/s
comparison on the same data, model, loss, optimizer and batch order rules.

Same data (``gpugrad.datasets.load_dataset``), same MLP shape with ReLU, cross-entropy with
label smoothing 0.1, SGD (lr 0.05, momentum 0.9), cosine schedule per epoch, batch 256 by default,
evaluation in batches of 4096.  Batches are gathered on the host from a shuffled index and copied
with ``non_blocking=True`` from pinned memory (the fast idiom; ``torch.utils.data.DataLoader``
with per-sample collation is several times slower).  samples/s counts the training loop only,
after a device synchronization, as ``gpugrad train`` does.

    python bench/train_peer_torch.py --device cuda --samples 1000000 --features 1024 \\
        --hidden 4096 4096 --classes 100 --epochs 1
"""
import argparse
import json
import time

import numpy as np
import torch

from gpugrad.datasets import load_dataset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--hidden", type=int, nargs="*", default=[256, 256])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls")
    ap.add_argument("--json", help="write the per-epoch rows here")
    a = ap.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    dev = torch.device(a.device)
    ds = load_dataset("synthetic", a.samples, a.features, a.classes, "classification", 0.2,
                      seed=a.seed, dtype="float32")
    Xtr, ytr = torch.from_numpy(ds.X_train), torch.from_numpy(ds.y_train)
    Xte, yte = torch.from_numpy(ds.X_test).to(dev), torch.from_numpy(ds.y_test).to(dev)
    pin = dev.type == "cuda"
    torch.manual_seed(a.seed)
    sizes = [ds.num_features] + a.hidden + [ds.num_outputs]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    gen = np.random.default_rng(a.seed + 1)
    rows = []
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.from_numpy(gen.permutation(len(Xtr)))
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        seen = 0
        for s in range(0, len(order), a.batch_size):
            idx = order[s:s + a.batch_size]
            xb, yb = Xtr[idx], ytr[idx]
            if pin:
                xb, yb = xb.pin_memory(), yb.pin_memory()
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss_sum += loss.detach().double() * len(idx)
            seen += len(idx)
        sched.step()
        train_loss = float(loss_sum) / seen                  # waits for the device's queue
        train_time = time.perf_counter() - t0
        model.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(Xte), 4096):
                correct += int((model(Xte[s:s + 4096]).argmax(1) == yte[s:s + 4096]).sum())
        row = {"epoch": epoch + 1, "train_loss": train_loss,
               "test_accuracy": correct / len(Xte), "train_time_s": train_time,
               "samples_per_s": seen / train_time}
        rows.append(row)
        print(f"torch epoch {epoch + 1}: loss {train_loss:.4f} acc {row['test_accuracy']:.4f} "
              f"{train_time:.2f}s ({row['samples_per_s']:,.0f} samples/s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"argv": vars(a), "torch": torch.__version__, "epochs": rows}, f, indent=1)


if __name__ == "__main__":
    main()
