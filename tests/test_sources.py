"""Sources: guide-format imports (good, bad, hostile) leave a cache or nothing; torchvision sets load offline."""
import gzip
import hashlib
import io
import os
import socket
import zipfile

import numpy as np
import pytest
import torch

from core.data import catalog, guide_format, torchvision_sets, uploads
from core.data import stats as data_stats
from core.data.catalog import load_dataset
from core.data.digits import default_data_dir
from core.data.safe_zip import MB, ArchiveLimits, DatasetError
from tests.helpers_archives import (
    corrupt_member,
    digits,
    encode,
    files_under,
    guide_files,
    mark_encrypted,
    place_torchvision,
    png_claiming,
    symlink_info,
    zip_bytes,
    zip_with_entry,
)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def good(**changes) -> dict[str, bytes]:
    return guide_files(30, 8, **changes)


def replace_csv(files: dict[str, bytes], name: str, edit) -> dict[str, bytes]:
    lines = files[name].decode().splitlines()
    return {**files, name: ("\n".join(edit(lines)) + "\n").encode()}


def without(files: dict[str, bytes], *names: str) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k not in names}


def with_label(lines: list[str], row: int, label: str) -> list[str]:
    lines[row] = lines[row].split(",")[0] + "," + label
    return lines


def duplicate_entry() -> bytes:
    out = io.BytesIO(zip_bytes(good()))
    with pytest.warns(UserWarning), zipfile.ZipFile(out, "a") as archive:
        archive.writestr("train.csv", b"filename,label\n")
    return out.getvalue()


def encrypted_entry() -> bytes:
    return mark_encrypted(zip_bytes({**good(), "Images/train/secret.png": GOOD_PNG}), "Images/train/secret.png")


GOOD_PNG = encode(digits(1)[0][0])
MISSING = [f"Images/train/{i}.png" for i in (2, 4, 6, 8, 10, 12, 14)]
# (id, archive bytes, limits, fragments the message must contain)
BAD_ARCHIVES = [
    ("not a zip", lambda: b"just some text, not a zip", None, ["bad.zip is not a zip archive", "train.csv"]),
    ("truncated zip", lambda: zip_bytes(good())[:3000], None, ["bad.zip is a damaged zip archive", "Re-create"]),
    ("corrupt member", lambda: corrupt_member(zip_bytes(good()), "train.csv"), None,
     ["damaged zip archive", "'train.csv' cannot be read"]),
    ("missing train.csv", lambda: zip_bytes(without(good(), "train.csv")), None,
     ["No train.csv in bad.zip", "Images, test.csv", "filename,label"]),
    ("wrong columns", lambda: zip_bytes(good(header="a,b")), None,
     ["train.csv needs a file-name column (filename, id or image) and a label column", "'a', 'b'"]),
    ("missing label column", lambda: zip_bytes(good(header="filename,value")), None,
     ["and a label column (label); its columns are 'filename', 'value'"]),
    ("labels outside 0-9", lambda: zip_bytes(replace_csv(good(), "train.csv",
                                                         lambda ls: with_label(with_label(ls, 2, "11"), 5, "-1"))),
     None, ["labels that are not whole numbers 0–9 in 2 of 30 rows", "row 3 '11'", "row 6 '-1'"]),
    ("labels not integers", lambda: zip_bytes(replace_csv(good(), "train.csv",
                                                          lambda ls: with_label(with_label(ls, 1, "x"), 9, "3.5"))),
     None, ["in 2 of 30 rows", "row 2 'x'", "row 10 '3.5'"]),
    ("missing images", lambda: zip_bytes(without(good(), *MISSING)), None,
     ["7 of 30 images listed in train.csv are missing from bad.zip", "2.png, 4.png, 6.png, 8.png, 10.png and 2 more.",
      "Looked in Images/train/"]),
    ("missing test image", lambda: zip_bytes(without(good(), "Images/test/5003.png")), None,
     ["1 of 8 images listed in test.csv are missing", "5003.png"]),
    ("corrupt image", lambda: zip_bytes({**good(), "Images/train/3.png": GOOD_PNG[:60]}), None,
     ["Not readable as PNG or JPEG images (1 of 30 files in train.csv): Images/train/3.png"]),
    ("not an image", lambda: zip_bytes({**good(), "Images/train/4.png": b"hello, I am text"}), None,
     ["Images/train/4.png (not a PNG or JPEG image)", "Replace them with PNG or JPEG digits"]),
    ("far from digit-shaped",
     lambda: zip_bytes({**good(), "Images/train/5.png": encode(np.zeros((20, 1000), np.uint8))}), None,
     ["Not digit-shaped (1 of 30 images in train.csv): Images/train/5.png (1000×20 pixels)", "at most 2:1"]),
    ("decompression bomb header", lambda: zip_bytes({**good(), "Images/test/5001.png": png_claiming(100_000, 100_000)}),
     None, ["Not digit-shaped (1 of 8 images in test.csv)", "claims 100000×100000 pixels"]),
    ("huge header", lambda: zip_bytes({**good(), "Images/train/6.png": png_claiming(3000, 3000)}), None,
     ["Images/train/6.png (3000×3000 pixels)", "at most 1024 pixels a side"]),
    ("duplicate rows", lambda: zip_bytes(replace_csv(good(), "train.csv", lambda ls: ls + [ls[4]])), None,
     ["train.csv lists the same file more than once (1 repeated): '3.png' (rows 5, 32)"]),
    ("duplicate test rows", lambda: zip_bytes(replace_csv(good(), "test.csv", lambda ls: ls + [ls[1]])), None,
     ["test.csv lists the same file more than once", "'5001.png' (rows 2, 10)"]),
    ("parent path", lambda: zip_bytes({**good(), "../evil.png": GOOD_PNG}), None,
     ["Refused bad.zip: entry '../evil.png' points outside the archive"]),
    ("absolute path", lambda: zip_bytes({**good(), "/etc/cron.d/evil": b"x"}), None,
     ["entry '/etc/cron.d/evil' is an absolute path"]),
    ("symlink", lambda: zip_with_entry(good(), symlink_info("Images/train/link.png"), b"/etc/passwd"), None,
     ["entry 'Images/train/link.png' is a symbolic link; links are not allowed"]),
    ("too many entries", lambda: zip_bytes(good()), ArchiveLimits(max_entries=20),
     ["Refused bad.zip: it has 40 entries; the limit is 20."]),
    ("too large unpacked", lambda: zip_bytes(good()), ArchiveLimits(max_total_bytes=5000),
     ["Refused bad.zip: it unpacks to", "the limit is 4.9 KB"]),
    ("zip bomb", lambda: zip_bytes({**good(), "Images/train/padding.png": bytes(10 * MB)}), None,
     ["'Images/train/padding.png' is compressed", ":1, over the limit of 100:1", "zip bombs"]),
    ("over the size limit", lambda: zip_bytes(good()), ArchiveLimits(max_archive_bytes=1000),
     ["bad.zip is", "the limit is 1000 bytes"]),
    ("over 50 MB", lambda: b"PK\x03\x04" + bytes(51 * MB), None, ["bad.zip is 51.0 MB; the limit is 50.0 MB"]),
    ("encrypted", encrypted_entry, None, ["'Images/train/secret.png' is password-protected"]),
    ("duplicate entry", duplicate_entry, None, ["entry 'train.csv' appears twice"]),
    ("empty train.csv", lambda: zip_bytes({**good(), "train.csv": b""}), None, ["train.csv is empty"]),
    ("not UTF-8", lambda: zip_bytes({**good(), "train.csv": "filename,label\n0.png,é\n".encode("latin-1")}), None,
     ["train.csv is not UTF-8 text"]),
    ("too few digits", lambda: zip_bytes(guide_files(5, 2)), None, ["train.csv lists 5 images; at least 10"]),
]


@pytest.mark.parametrize("make, limits, fragments", [case[1:] for case in BAD_ARCHIVES],
                         ids=[case[0] for case in BAD_ARCHIVES])
def test_bad_archive_gives_its_message_and_writes_nothing(data_dir, make, limits, fragments):
    with pytest.raises(DatasetError) as caught:
        uploads.import_archive(make(), "bad.zip", data_dir, limits=limits or ArchiveLimits())
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert files_under(data_dir) == []


def test_good_archive_is_decoded_once_and_cached_atomically(data_dir, monkeypatch):
    archive = zip_bytes(good())
    seen = []
    name = uploads.import_archive(archive, "digits.zip", data_dir, progress=lambda done, text: seen.append(done))
    digest = hashlib.sha256(archive).hexdigest()
    assert name == f"upload:{digest[:12]}"
    assert files_under(data_dir) == ["cache", f"cache/{digest}.pt"]  # no temporary files left
    assert seen[-1] == 1.0
    monkeypatch.setattr(uploads, "read_guide", lambda *a, **k: pytest.fail("decoded a cached archive again"))
    assert uploads.import_archive(archive, "digits.zip", data_dir) == name
    data = load_dataset(name, 0.1, data_dir)
    images, labels = digits(30)
    order = torch.argsort(torch.cat([data.splits[s] for s in ("train", "val", "test")]))
    assert order.numel() == 30 and data.images.shape == (30, 28, 28)
    assert torch.equal(data.images, torch.from_numpy(images)) and torch.equal(data.labels, torch.from_numpy(labels))
    assert data.predict_names == tuple(f"{i}.png" for i in (5001, 5003, 5005, 5007, 5000, 5002, 5004, 5006))
    assert (name, "digits.zip (upload, 38 images)") in catalog.list_datasets(data_dir)


def test_a_failed_cache_write_leaves_no_partial_file(data_dir, monkeypatch):
    def broken_save(payload, path):
        open(path, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        uploads.import_archive(zip_bytes(good()), "digits.zip", data_dir)
    assert files_under(data_dir) == ["cache"]


def test_zip_and_folder_on_disk_load_by_path(tmp_path, data_dir):
    folder = tmp_path / "unpacked"
    for name, data in good(root="Train/").items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    zipped = tmp_path / "digits.zip"
    zipped.write_bytes(zip_bytes(good()))
    from_folder, from_zip = load_dataset(str(folder), 0.1, data_dir), load_dataset(str(zipped), 0.1, data_dir)
    assert torch.equal(from_folder.images, from_zip.images)
    assert from_folder.predict_names == from_zip.predict_names and len(from_zip.predict_names) == 8
    assert len(list((data_dir / "cache").glob("*.pt"))) == 2  # one entry per distinct content


def test_symlink_in_a_folder_is_refused(tmp_path, data_dir):
    folder = tmp_path / "unpacked"
    for name, data in good().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "Images/train/0.png").unlink()
    (folder / "Images/train/0.png").symlink_to("/etc/passwd")
    with pytest.raises(DatasetError, match="Images/train/0.png is a symbolic link; links are not allowed"):
        load_dataset(str(folder), 0.1, data_dir)
    assert files_under(data_dir) == []


def test_oversize_file_on_disk_is_refused_before_reading(tmp_path, data_dir):
    big = tmp_path / "big.zip"
    with open(big, "wb") as file:
        file.truncate(60 * MB)  # sparse: costs no disk and no time
    with pytest.raises(DatasetError, match=r"big.zip is 60.0 MB; the limit is 50.0 MB"):
        load_dataset(str(big), 0.1, data_dir)


@pytest.mark.parametrize("name, message", [
    ("upload:0123456789ab", "No cached upload called 'upload:0123456789ab'"),
    ("upload:../../etc", "No cached upload called 'upload:../../etc'"),
    ("no-such-set", "Unknown dataset 'no-such-set': use one of embedded, mnist, fashion-mnist, kmnist"),
    ("missing/digits.zip", "missing/digits.zip does not exist"),
])
def test_unknown_names_say_what_exists(data_dir, name, message):
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_dataset(name, 0.1, data_dir)


def test_damaged_cache_says_delete_and_reimport(data_dir):
    name = uploads.import_archive(zip_bytes(good()), "digits.zip", data_dir)
    path = next((data_dir / "cache").glob("*.pt"))
    path.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="is damaged .* Delete it and import the archive again"):
        load_dataset(name, 0.1, data_dir)
    assert [n for n, _ in catalog.list_datasets(data_dir)] == ["embedded"]  # not offered any more
    assert uploads.import_archive(zip_bytes(good()), "digits.zip", data_dir) == name  # rebuilt
    assert len(load_dataset(name, 0.1, data_dir).labels) == 30


def test_a_deleted_upload_is_gone_and_can_be_imported_again(tmp_path, data_dir):
    archive, other = zip_bytes(good()), zip_bytes(guide_files(20, 5))
    name = uploads.import_archive(archive, "digits.zip", data_dir)
    kept = uploads.import_archive(other, "other.zip", data_dir)
    place_torchvision(data_dir, "mnist")
    stray = data_dir / "cache" / f"{name.removeprefix('upload:')}-notes.pt"  # not a cache entry: never touched
    stray.write_bytes(b"mine")
    (tmp_path / "outside.pt").write_bytes(b"not data")
    before, outside = files_under(data_dir), files_under(tmp_path)
    gone = f"cache/{hashlib.sha256(archive).hexdigest()}.pt"
    uploads.delete_upload(name, data_dir)
    assert files_under(data_dir) == [f for f in before if f != gone]  # exactly one file went
    assert sorted(files_under(tmp_path)) == sorted(f for f in outside if f != f"data/{gone}")
    assert [n for n, _ in catalog.list_datasets(data_dir)] == ["embedded", "mnist", kept]
    with pytest.raises(DatasetError, match="No cached upload called"):
        load_dataset(name, 0.1, data_dir)
    with pytest.raises(DatasetError, match="nothing to delete .*deleted already"):
        uploads.delete_upload(name, data_dir)  # twice: a clear refusal, not a crash
    assert uploads.import_archive(archive, "digits.zip", data_dir) == name  # decoded and cached again
    assert len(load_dataset(name, 0.1, data_dir).labels) == 30
    assert files_under(data_dir) == before


@pytest.mark.parametrize("name, fragments", [
    ("embedded", ["'embedded' is not an uploaded dataset", "only uploads (upload:…) can"]),
    ("mnist", ["'mnist' is not an uploaded dataset", "Pick an upload on the Data page"]),
    ("../cache", ["'../cache' is not an uploaded dataset"]),
    ("upload:0123456789ab", ["No uploaded dataset called 'upload:0123456789ab' in", "nothing to delete"]),
    ("upload:../../etc", ["No uploaded dataset called 'upload:../../etc'"]),
    ("upload:../MNIST/raw/*", ["No uploaded dataset called"]),
    ("upload:*", ["No uploaded dataset called 'upload:*'"]),
    ("upload:", ["No uploaded dataset called 'upload:'"]),
    ("UPLOAD", ["is not an uploaded dataset"]),
])
def test_deleting_anything_but_an_existing_upload_is_refused(data_dir, name, fragments):
    upload = uploads.import_archive(zip_bytes(good()), "digits.zip", data_dir)
    place_torchvision(data_dir, "mnist")
    before = files_under(data_dir)
    with pytest.raises(DatasetError) as caught:
        uploads.delete_upload(name, data_dir)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert files_under(data_dir) == before
    assert upload in [n for n, _ in catalog.list_datasets(data_dir)]


def test_deleting_an_upload_needs_a_real_cache_entry(data_dir):
    """A file that only looks like one (not <sha256>.pt) is refused rather than removed."""
    (data_dir / "cache").mkdir(parents=True)
    (data_dir / "cache" / "0123456789ab-mine.pt").write_bytes(b"mine")
    (data_dir / "cache" / f"{'a' * 64}.pt").mkdir()  # a folder, not a file
    before = files_under(data_dir)
    for name in ("upload:0123456789ab", f"upload:{'a' * 12}"):
        with pytest.raises(DatasetError, match="nothing to delete"):
            uploads.delete_upload(name, data_dir)
    assert files_under(data_dir) == before


@pytest.mark.parametrize("name, packed", [("mnist", False), ("fashion-mnist", False), ("kmnist", True)])
def test_torchvision_files_placed_by_hand_load_without_network(data_dir, no_network, name, packed):
    place_torchvision(data_dir, name, n_train=40, n_test=15, packed=packed)
    data = load_dataset(name, 0.25, data_dir)
    assert data.images.shape == (55, 28, 28) and data.images.dtype == torch.uint8
    sizes = data.sizes()  # the official train set split per class, so rounding moves a digit or two
    assert sizes["train"] + sizes["val"] == 40 and 8 <= sizes["val"] <= 12 and sizes["test"] == 15
    assert torch.equal(data.splits["test"], torch.arange(40, 55))  # the official test set, untouched
    assert torch.equal(data.images, torch.from_numpy(digits(55)[0]))
    assert len(data.classes) == 10 and (data.classes[0] == "T-shirt/top") == (name == "fashion-mnist")
    assert name in [n for n, _ in catalog.list_datasets(data_dir)]


def test_absent_torchvision_set_names_files_and_folder(data_dir, no_network):
    with pytest.raises(DatasetError) as caught:
        load_dataset("fashion-mnist", 0.1, data_dir)
    message = str(caught.value)
    assert f"Fashion-MNIST is not in {data_dir / 'FashionMNIST' / 'raw'}" in message
    assert "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in message
    assert files_under(data_dir) == []
    assert ("fashion-mnist", "Fashion-MNIST (not downloaded, 30 MB)") in catalog.list_datasets(data_dir, True)


def test_damaged_torchvision_file_is_reported(data_dir):
    raw = place_torchvision(data_dir, "mnist")
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01")  # header cut short
    with pytest.raises(DatasetError, match="The MNIST files in .* are damaged"):
        load_dataset("mnist", 0.1, data_dir)


def test_fetch_files_downloads_checks_and_unpacks(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.gz").write_bytes(gzip.compress(b"first"))
    (mirror / "b.gz").write_bytes(gzip.compress(b"second"))
    md5 = {n: hashlib.md5((mirror / n).read_bytes()).hexdigest() for n in ("a.gz", "b.gz")}
    seen = []
    torchvision_sets.fetch_files([("a.gz", md5["a.gz"]), ("b.gz", md5["b.gz"])], [mirror.as_uri() + "/"],
                        tmp_path / "raw", lambda done, text: seen.append(done), timeout=5)
    assert (tmp_path / "raw/a").read_bytes() == b"first" and (tmp_path / "raw/b").read_bytes() == b"second"
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(DatasetError, match="c.gz arrived damaged"):
        (mirror / "c.gz").write_bytes(gzip.compress(b"third"))
        torchvision_sets.fetch_files([("c.gz", "0" * 32)], [mirror.as_uri() + "/"], tmp_path / "raw", None, timeout=5)
    assert sorted(os.listdir(tmp_path / "raw")) == ["a", "b"]


def test_failed_download_says_where_to_put_the_files(tmp_path, data_dir):
    empty_mirror = (tmp_path / "nothing").as_uri() + "/"
    with pytest.raises(DatasetError) as caught:
        torchvision_sets.download_torchvision("kmnist", data_dir, mirrors=[empty_mirror], timeout=5)
    message = str(caught.value)
    assert message.startswith("Could not download Kuzushiji-MNIST: train-images-idx3-ubyte.gz could not be fetched")
    assert message.endswith("To use it without a network, put train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or their .gz versions) "
                            f"in {data_dir / 'KMNIST' / 'raw'}.")
    assert files_under(data_dir) == []


def test_data_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("DIGITLAB_DATA_DIR")
    assert str(default_data_dir()) == "data"


def test_import_is_faster_than_2000_images_per_second():
    images, labels = digits(1000)
    result = guide_format.benchmark_import(torch.from_numpy(images), torch.from_numpy(labels), n_test=200)
    assert result["images"] == 1000
    assert result["images_per_s"] > 2000, result


def test_summaries_for_the_data_page():
    data = load_dataset("embedded", 0.1)
    counts = data_stats.class_counts(data)
    assert [sum(counts[s]) for s in ("train", "val", "test")] == [3600, 400, 1000] and counts["test"] == [100] * 10
    samples = data_stats.class_samples(data.images, data.labels, per_class=3)
    grid = data_stats.tile(samples, columns=3, scale=3)
    assert grid.shape == (10 * 85 - 1, 3 * 85 - 1)
    first = grid[:84, :84]  # class 0's first digit, each pixel a crisp 3x3 block
    assert np.array_equal(first, data.images[data.labels == 0][0].numpy().repeat(3, 0).repeat(3, 1))
    means = data_stats.mean_images(data.images, data.labels)
    assert means.shape == (10, 28, 28) and means.dtype == torch.uint8
    assert abs(means[1].float().mean() - data.images[data.labels == 1].float().mean()) < 0.5
    stats = {row["split"]: row for row in data_stats.pixel_statistics(data)}
    assert 0.10 < stats["train"]["mean"] < 0.16 and stats["test"]["images"] == 1000
    assert sum(data_stats.pixel_histogram(data.images)) == 5000 * 784
