"""Run under ``mpiexec -n 2``: data-parallel SGD against one process on the whole batch.

Every rank computes the single-process reference itself (same seed, batch 2b) and compares
it with its DistributedDataParallel model (batch b per rank); rank 0 prints one JSON line.
"""
import json
import sys

import numpy as np

import gpugrad as gg
import gpugrad.distributed as dist

STEPS, B = 20, 8


def data(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((STEPS, 2 * B, 6)).astype(dtype)
    y = rng.integers(0, 3, (STEPS, 2 * B))
    return X, y


def model(dtype):
    gg.random.manual_seed(1)
    return gg.nn.MLP([6, 16, 12, 3], dtype=dtype)


def reference(dtype, momentum):
    X, y = data(dtype)
    m = model(dtype)
    opt = gg.optim.SGD(m.parameters(), lr=0.1, momentum=momentum)
    for s in range(STEPS):
        opt.zero_grad()
        gg.nn.functional.cross_entropy(m(gg.tensor(X[s])), gg.tensor(y[s])).backward()
        opt.step()
    return [p.numpy().copy() for p in m.parameters()]


def distributed(dtype, momentum, accumulate=False, optimizer_first=False, cap_mb=25.0):
    X, y = data(dtype)
    r, n = dist.get_rank(), dist.get_world_size()
    m = model(dtype)
    if r:                      # other ranks start elsewhere: the broadcast must fix that
        for p in m.parameters():
            p.data[...] = 7.0
    if optimizer_first:
        opt = gg.optim.SGD(m.parameters(), lr=0.1, momentum=momentum)
        ddp = dist.DistributedDataParallel(m, bucket_cap_mb=cap_mb)
    else:
        ddp = dist.DistributedDataParallel(m, bucket_cap_mb=cap_mb)
        opt = gg.optim.SGD(ddp.parameters(), lr=0.1, momentum=momentum)
    shard = slice(r * B, (r + 1) * B)
    for s in range(STEPS):
        opt.zero_grad()
        xs, ys = X[s][shard], y[s][shard]
        if accumulate:         # two micro-batches of b/2: the mean of means is the mean
            h = B // 2
            with ddp.no_sync():
                (gg.nn.functional.cross_entropy(ddp(gg.tensor(xs[:h])), gg.tensor(ys[:h]))
                 * 0.5).backward()
            (gg.nn.functional.cross_entropy(ddp(gg.tensor(xs[h:])), gg.tensor(ys[h:]))
             * 0.5).backward()
        else:
            gg.nn.functional.cross_entropy(ddp(gg.tensor(xs)), gg.tensor(ys)).backward()
        opt.step()
    return [p.numpy().copy() for p in m.parameters()], ddp.bytes_per_step, \
        len(ddp.reducer.buckets)


def err(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def main():
    dist.init()
    out = {"size": dist.get_world_size()}
    for name, dtype, kw in [("f64", "float64", {}),
                            ("f64_momentum", "float64", {"momentum": 0.9}),
                            ("f64_accumulate", "float64", {"accumulate": True}),
                            ("f64_small_buckets", "float64", {"cap_mb": 1e-3}),
                            ("f64_optimizer_first", "float64", {"optimizer_first": True}),
                            ("f32", "float32", {})]:
        momentum = kw.pop("momentum", 0.0)
        ref = reference(dtype, momentum)
        got, nbytes, nbuckets = distributed(dtype, momentum, **kw)
        out[name] = {"err": err(ref, got), "bytes": nbytes, "buckets": nbuckets}
    # the same parameters on every rank
    flat = np.concatenate([p.ravel() for p in got]).astype(np.float64)
    mean = dist.all_reduce(flat.copy(), op="mean")
    out["rank_spread"] = float(np.max(np.abs(mean - flat)))
    out["rank_spread"] = float(dist.all_reduce(np.array([out["rank_spread"]]))[0])
    # average_gradients (no overlap) agrees with the bucketed reduction
    g = gg.nn.Parameter(gg.tensor(np.full(3, dist.get_rank() + 1.0)))
    g.grad = gg.tensor(np.full(3, float(dist.get_rank())))
    none = gg.nn.Parameter(gg.zeros(2))
    dist.average_gradients([g, none])
    out["average_gradients"] = g.grad.tolist() + none.grad.tolist()
    if dist.get_rank() == 0:
        print(json.dumps(out))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
