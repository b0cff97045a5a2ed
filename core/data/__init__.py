"""Digits from every source, in one in-memory form.

Layers, each importing only those below it (checked by import-linter, see pyproject.toml)::

    catalog                       load_dataset(name): which source owns a name
    embedded | torchvision_sets | uploads | stats     (never import each other)
    guide_format                  the guide's train.csv/test.csv + PNG layout
    safe_zip                      reading untrusted archives in memory
    digits                        DigitData: uint8 images, labels, splits; normalize, batches
"""
