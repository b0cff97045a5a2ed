"""predictions.bin: one record appended per epoch, read back exactly, safe against a write cut short."""
from pathlib import Path

import pytest
import torch

from core.store import run_files


def append(run_dir, epoch: int, predicted: torch.Tensor, confidence: torch.Tensor) -> None:
    """One epoch's record by a log opened for it alone, as a resumed run's first epoch is written."""
    log = run_files.PredictionsLog(run_dir)
    try:
        log.append(epoch, predicted, confidence)
    finally:
        log.close()


def epoch_rows(epochs: int, digits: int = 1000, seed: int = 0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    predicted = [torch.randint(0, 10, (digits,), generator=generator, dtype=torch.uint8) for _ in range(epochs)]
    confidence = [torch.rand(digits, generator=generator).to(torch.float16) for _ in range(epochs)]
    return predicted, confidence


def test_appended_epochs_read_back_exactly_while_the_log_is_still_open(tmp_path):
    predicted, confidence = epoch_rows(3)
    log = run_files.PredictionsLog(tmp_path)  # as a worker keeps it, open for the whole run
    for epoch, (p, c) in enumerate(zip(predicted, confidence), start=1):
        log.append(epoch, p, c)
    payload = run_files.read_predictions(tmp_path)
    assert payload["epochs"].tolist() == [1, 2, 3]
    assert payload["predicted"].dtype == torch.uint8 and payload["confidence"].dtype == torch.float16
    assert torch.equal(payload["predicted"], torch.stack(predicted))
    assert torch.equal(payload["confidence"], torch.stack(confidence))
    size = (tmp_path / run_files.PREDICTIONS).stat().st_size
    assert size == 12 + 3 * (4 + 3 * 1000), "a 12-byte header, then 4 + 3n bytes an epoch"
    log.close()


def test_a_whole_history_saved_at_once_reads_like_the_appended_one(tmp_path):
    predicted, confidence = epoch_rows(4)
    (tmp_path / "appended").mkdir()
    for epoch, (p, c) in enumerate(zip(predicted, confidence), start=1):
        append(tmp_path / "appended", epoch, p, c)
    (tmp_path / "whole").mkdir()
    run_files.save_predictions(tmp_path / "whole", [1, 2, 3, 4], predicted, confidence)
    assert ((tmp_path / "whole" / run_files.PREDICTIONS).read_bytes()
            == (tmp_path / "appended" / run_files.PREDICTIONS).read_bytes())


def test_a_record_cut_short_is_ignored_then_replaced_by_the_next_epoch(tmp_path):
    predicted, confidence = epoch_rows(3)
    append(tmp_path, 1, predicted[0], confidence[0])
    append(tmp_path, 2, predicted[1], confidence[1])
    path = tmp_path / run_files.PREDICTIONS
    whole = path.read_bytes()
    path.write_bytes(whole[:-1234])  # the process died in the middle of epoch 2's write
    assert run_files.read_predictions(tmp_path)["epochs"].tolist() == [1]
    append(tmp_path, 2, predicted[1], confidence[1])  # a resumed run writes epoch 2 again
    append(tmp_path, 3, predicted[2], confidence[2])
    payload = run_files.read_predictions(tmp_path)
    assert payload["epochs"].tolist() == [1, 2, 3]
    assert torch.equal(payload["predicted"], torch.stack(predicted))


def test_a_file_of_other_digits_is_refused_not_appended_to(tmp_path):
    predicted, confidence = epoch_rows(1)
    append(tmp_path, 1, predicted[0], confidence[0])
    size = (tmp_path / run_files.PREDICTIONS).stat().st_size
    other_p, other_c = epoch_rows(1, digits=999)
    with pytest.raises(ValueError, match="999 test digits"):
        append(tmp_path, 2, other_p[0], other_c[0])
    assert (tmp_path / run_files.PREDICTIONS).stat().st_size == size


@pytest.mark.parametrize("content", [b"DLPRED", b"not a predictions file at all", b"PK\x03\x04" + bytes(100)])
def test_a_damaged_file_gives_a_message(tmp_path, content):
    (tmp_path / run_files.PREDICTIONS).write_bytes(content)
    with pytest.raises(ValueError, match="damaged"):
        run_files.read_predictions(tmp_path)


def test_no_file_or_an_empty_one_says_to_wait_for_the_first_epoch(tmp_path):
    with pytest.raises(ValueError, match="no test predictions yet"):
        run_files.read_predictions(tmp_path)
    (tmp_path / run_files.PREDICTIONS).touch()  # opened for its first record, not yet written
    with pytest.raises(ValueError, match="no test predictions yet"):
        run_files.read_predictions(tmp_path)


def test_an_older_runs_whole_file_is_read_and_copied_into_a_log(tmp_path):
    predicted, confidence = epoch_rows(2)
    old, new = Path(tmp_path / "old"), Path(tmp_path / "new")
    old.mkdir(), new.mkdir()
    run_files.save_tensors(old / run_files.LEGACY_PREDICTIONS, {
        "epochs": torch.tensor([1, 2]), "predicted": torch.stack(predicted), "confidence": torch.stack(confidence)})
    assert run_files.predictions_file(old).name == run_files.LEGACY_PREDICTIONS
    assert run_files.read_predictions(old)["epochs"].tolist() == [1, 2]
    run_files.copy_predictions(old, new)
    more_p, more_c = epoch_rows(1, seed=1)
    append(new, 3, more_p[0], more_c[0])
    payload = run_files.read_predictions(new)
    assert payload["epochs"].tolist() == [1, 2, 3]
    assert torch.equal(payload["predicted"], torch.stack([*predicted, *more_p]))
