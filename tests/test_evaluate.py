"""core.evaluate: the numbers the Inspect page shows, checked by hand and against scikit-learn."""
import pytest
import torch
from sklearn import metrics as sk

from core.models import build_model
from core.results.metrics import (
    confusion_matrix,
    learned_when,
    misclassified,
    per_class_metrics,
    saliency,
    weakest_class,
)


def test_confusion_matrix_and_metrics_on_a_hand_computed_example():
    # 3 classes. True 0: predicted 0, 0, 1. True 1: 1, 1. True 2: 0, 2, 2, 2.
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = torch.tensor([0, 0, 1, 1, 1, 0, 2, 2, 2])
    matrix = confusion_matrix(labels, predicted, n_classes=3)
    assert matrix.tolist() == [[2, 1, 0],
                               [0, 2, 0],
                               [1, 0, 3]]
    m = per_class_metrics(matrix)
    # class 0: TP 2, predicted 3 times, 3 present -> P 2/3, R 2/3, F1 2/3
    # class 1: TP 2, predicted 3 times, 2 present -> P 2/3, R 1,   F1 4/5
    # class 2: TP 3, predicted 3 times, 4 present -> P 1,   R 3/4, F1 6/7
    assert m["precision"].tolist() == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert m["recall"].tolist() == pytest.approx([2 / 3, 1.0, 3 / 4])
    assert m["f1"].tolist() == pytest.approx([2 / 3, 4 / 5, 6 / 7])
    assert m["support"].tolist() == [3, 2, 4]
    assert weakest_class(m) == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_confusion_matrix_and_metrics_match_sklearn_on_random_labels(seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (500,), generator=generator)
    # Mostly right, some noise; class 9 is never predicted and class 7 never occurs, so the
    # zero-denominator cases are exercised too.
    noise = torch.randint(0, 9, (500,), generator=generator)
    predicted = torch.where(torch.rand(500, generator=generator) < 0.7, labels, noise).clamp(max=8)
    labels = torch.where(labels == 7, torch.tensor(6), labels)

    matrix = confusion_matrix(labels, predicted)
    assert matrix.tolist() == sk.confusion_matrix(labels, predicted, labels=list(range(10))).tolist()
    ours = per_class_metrics(matrix)
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        labels, predicted, labels=list(range(10)), zero_division=0)
    assert ours["precision"].tolist() == pytest.approx(precision.tolist())
    assert ours["recall"].tolist() == pytest.approx(recall.tolist())
    assert ours["f1"].tolist() == pytest.approx(f1.tolist())
    assert ours["support"].tolist() == support.tolist()
    assert weakest_class(ours) != 7, "a class absent from the split cannot be the weakest"


def test_confusion_matrix_rejects_mismatched_or_out_of_range_input():
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="class numbers 0..9"):
        confusion_matrix(torch.tensor([0, 10]), torch.tensor([0, 1]))


def test_misclassified_lists_exactly_the_wrong_predictions_most_confident_first():
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    predicted = torch.tensor([3, 7, 4, 2, 5, 4, 2, 0], dtype=torch.uint8)  # as a run's predictions file stores them
    confidence = torch.tensor([0.9, 0.6, 0.8, 0.95, 0.7, 0.6, 0.99, 0.3], dtype=torch.float16)
    wrong = misclassified(labels, predicted, confidence)
    assert wrong.tolist() == [3, 1, 5, 7]  # 0.95, then the 0.6 tie in index order, then 0.3
    assert set(wrong.tolist()) == set(torch.nonzero(labels != predicted.long()).flatten().tolist())


def test_saliency_has_the_input_shape_is_non_zero_and_leaves_the_model_untouched():
    torch.manual_seed(0)
    for name in ("mlp", "cnn"):
        model = build_model(name, (16,)).eval()
        image = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
        gradient, target = saliency(model, image)
        assert gradient.shape == image.shape and gradient.dtype == torch.float32
        assert gradient.abs().sum() > 0
        assert target == int(model(((image.float() / 255 - 0.1307) / 0.3081)[None, None]).argmax())
        assert all(p.grad is None for p in model.parameters()), "saliency must not write parameter gradients"
        other, chosen = saliency(model, image, target=(target + 1) % 10)
        assert chosen == (target + 1) % 10 and not torch.equal(other, gradient)


def test_learned_when_finds_the_epoch_a_digit_stayed_correct_and_the_forgotten_ones():
    labels = torch.tensor([1, 2, 3, 4])
    epochs = torch.tensor([1, 2, 3])
    # columns: learned at epoch 1 | learned at 3 | never learned | right twice, then forgotten
    predicted = torch.tensor([[1, 0, 0, 4],
                              [1, 0, 0, 4],
                              [1, 2, 0, 0]])
    result = learned_when(labels, predicted, epochs)
    assert result["learned_epoch"].tolist() == [1, 3, -1, -1]
    assert result["never_learned"].tolist() == [False, False, True, False]
    assert result["forgotten"].tolist() == [False, False, False, True]


def test_learned_when_counts_a_digit_forgotten_and_relearned_from_its_last_recovery():
    labels = torch.tensor([5])
    predicted = torch.tensor([[5], [0], [5], [5]])  # right, wrong, right, right
    result = learned_when(labels, predicted, torch.tensor([2, 3, 4, 5]))  # a resumed run: epochs start at 2
    assert result["learned_epoch"].tolist() == [4]
    assert result["forgotten"].tolist() == [True]
