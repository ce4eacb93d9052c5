"""Model folders from checkpoints of other projects (official CycleGAN, CUT, NVlabs MUNIT)."""
