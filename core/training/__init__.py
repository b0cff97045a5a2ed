"""The training loop and its parts: callbacks, optimizers and schedules, augmentation, precision, DDP, evaluation."""
