"""Where the time of one CycleGAN training step goes: torch.profiler over a few steps of the
default model (resnet_9blocks, PatchGAN, batch 1), operators grouped by kind. Prints JSON.

    python benchmarks/profile_step.py --size 128 --steps 2
    python benchmarks/profile_step.py --size 256 --fused --top 20

Shares are of the profiled operators' self time (the sum of all groups is 1), so they hold on
a busy machine too; the absolute seconds do not.
"""

from __future__ import annotations

import argparse
import json
import time

# Operator name -> group; the first matching substring wins.
GROUPS = (
    ("convolution_backward", "conv backward"),
    ("conv", "conv forward"),
    ("native_batch_norm_backward", "instance norm backward"),
    ("batch_norm", "instance norm forward"),
    ("reflection_pad", "reflection pad (fwd+bwd)"),
    ("adam", "optimizer"),
    ("_foreach", "optimizer"),
    ("relu", "activations"),
    ("threshold_backward", "activations"),
    ("leaky", "activations"),
    ("tanh", "activations"),
    ("mse", "losses"),
    ("l1", "losses"),
    ("abs", "losses"),
)


def group_of(name: str) -> str:
    lowered = name.lower()
    for key, group in GROUPS:
        if key in lowered:
            return group
    return "other"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fused", action="store_true", help="fused passes (the CUDA default)")
    p.add_argument("--top", type=int, default=12, help="also list the N costliest operators")
    args = p.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from unpaired.image_pool import ImagePool
    from unpaired.models.cyclegan import build_cyclegan
    from unpaired.recipes.cyclegan import CycleGANConfig, cyclegan_step
    from unpaired.recipes.steps import StepOptions

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_cyclegan()
    params = lambda *nets: [q for n in nets for q in n.parameters()]  # noqa: E731
    opt_g = torch.optim.Adam(params(model.g_ab, model.g_ba), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(params(model.d_a, model.d_b), lr=2e-4, betas=(0.5, 0.999))
    pools = ImagePool(50, seed=1), ImagePool(50, seed=2)
    batch = {k: torch.rand(1, 3, args.size, args.size) * 2 - 1 for k in "AB"}
    options = StepOptions(fused=args.fused)

    def step() -> None:
        cyclegan_step(model, opt_g, opt_d, batch, *pools, CycleGANConfig(), options)

    step()  # warm-up
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    wall = (time.perf_counter() - start) / args.steps
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = {}
    for e in events:
        g = group_of(e.key)
        groups[g] = groups.get(g, 0.0) + e.self_cpu_time_total
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[: args.top]
    print(
        json.dumps(
            {
                "size": args.size,
                "fused": args.fused,
                "threads": args.threads,
                "wall_s_per_step": round(wall, 3),
                "share_by_group": {
                    g: round(t / total, 3) for g, t in sorted(groups.items(), key=lambda x: -x[1])
                },
                "top_operators": [
                    {
                        "op": e.key,
                        "share": round(e.self_cpu_time_total / total, 3),
                        "calls_per_step": e.count // args.steps,
                    }
                    for e in top
                ],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
