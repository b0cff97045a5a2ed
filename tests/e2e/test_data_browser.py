"""In a real browser: bring your own digits on the Data page.

A good guide-format zip (the page's own example, downloaded and uploaded again) is imported and
summarised; hostile zips (a ../ entry, a zip bomb) are refused with their specific reason and leave
nothing on disk; afterwards the app keeps working.
"""
import urllib.request
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from core.data.safe_zip import MB
from tests.e2e.conftest import exceptions_on_screen, open_app, wait_idle
from tests.helpers_archives import guide_files, zip_bytes


def upload(page, name: str, data: bytes) -> None:
    page.locator(".st-key-data_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(
        {"name": name, "mimeType": "application/zip", "buffer": data})


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=label))
    return box.first.locator("[data-testid='stMetricValue']").inner_text().strip()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def count(text: str) -> int:
    return int(text.replace(",", ""))


def test_upload_good_then_hostile_zips_and_the_app_keeps_working(page, server, tmp_path):
    open_app(page, server, "data")
    expect(page.locator("h1")).to_have_text("Datasets: what the model learns from")
    assert metric(page, "Labelled digits") == "5,000"  # the embedded set, before any upload

    # The good archive: the page's example zip, downloaded through the browser.
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download an example zip").click()
    example = tmp_path / "example.zip"
    download.value.save_as(example)
    with zipfile.ZipFile(example) as archive:
        labelled = len(archive.read("train.csv").decode().strip().splitlines()) - 1  # minus the header
        to_predict = len(archive.read("test.csv").decode().strip().splitlines()) - 1
    assert (labelled, to_predict) == (150, 50)

    upload(page, "my-digits.zip", example.read_bytes())
    expect(page.get_by_text("Imported my-digits.zip as upload:")).to_be_visible(timeout=60_000)
    wait_idle(page, 60)
    assert count(metric(page, "Labelled digits")) == labelled
    assert count(metric(page, "To predict (test.csv)")) == to_predict
    assert sum(count(metric(page, name)) for name in ("Train", "Validation", "Test")) == labelled
    cached = files_under(server.data_dir)
    assert any(name.endswith(".pt") for name in cached), cached

    # Hostile archives: each refused with its own reason; nothing more is written.
    hostile = {
        "evil.zip": (zip_bytes({**guide_files(40, 9), "../../outside.png": b"x"}),
                     "Refused evil.zip: entry '../../outside.png' points outside the archive (it contains '..'). "
                     "Re-create the archive with plain relative paths."),
        "bomb.zip": (zip_bytes({**guide_files(40, 9), "Images/train/padding.png": bytes(10 * MB)}),
                     "Refused bomb.zip: entry 'Images/train/padding.png' is compressed"),
    }
    for name, (data, message) in hostile.items():
        upload(page, name, data)
        error = page.locator("[data-testid='stAlertContentError']")
        expect(error).to_contain_text(message, timeout=60_000)
        wait_idle(page, 60)
        assert error.count() == 1
        if name == "bomb.zip":
            assert "zip bombs" in error.inner_text()
        assert exceptions_on_screen(page) == []
        assert files_under(server.data_dir) == cached, f"{name} left files behind"
    assert not (server.data_dir.parent / "outside.png").exists()

    # The app keeps working: another page renders, the server is alive and healthy.
    page.locator("[data-testid='stSidebarNavLink']").filter(has_text="Train").first.click()
    expect(page.locator("h1")).to_have_text("Train a digit classifier", timeout=60_000)
    wait_idle(page, 60)
    assert exceptions_on_screen(page) == []
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()
    page.locator(".st-key-train_dataset input").click()  # the imported set is offered for training
    expect(page.get_by_role("option").filter(has_text=f"(upload, {labelled + to_predict} images)")).to_be_visible()
    page.keyboard.press("Escape")
    assert server.process.poll() is None, "the Streamlit server died"
    assert urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=10).read() == b"ok"
