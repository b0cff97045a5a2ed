"""The tutorial's input pipeline: a per-sample ``Dataset`` of PIL images through ``ToTensor`` + ``Normalize``,
batched by a ``DataLoader``.

The trainer's ``loader="dataloader"`` mode feeds it the very index batches the preloaded-tensor mode slices,
so the two differ only in how a batch is made: that is what the speed-up ladder times.
"""
from __future__ import annotations

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from core.data.digits import MEAN, STD


class TutorialDigits(Dataset):
    """One digit at a time, as torchvision's MNIST returns it: a PIL image through transforms."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        from torchvision import transforms  # noqa: PLC0415 - torchvision costs ~1 s to import; only this mode uses it

        self.images, self.labels = images, labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.images[index].numpy())  # uint8 (28, 28) -> mode "L"
        return self.transform(image), int(self.labels[index])  # float32 (1, 28, 28)


def epoch_loader(dataset: TutorialDigits, index_batches: list[torch.Tensor]) -> DataLoader:
    """A DataLoader that yields exactly ``index_batches`` (CPU index tensors), in order, in this process."""
    return DataLoader(dataset, batch_sampler=[batch.tolist() for batch in index_batches], num_workers=0)
