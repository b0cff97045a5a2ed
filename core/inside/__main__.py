"""Print what a run recorded about its network's insides, layer by layer and epoch by epoch.

    python -m core.inside --run RUN_ID [--runs-dir DIR] [--json]

``--json`` prints one object::

    {"layers": [{"name": "layers.1", "kind": "Linear 784→50", "activation": "relu", "parameters": 39250,
                 "epochs": [{"epoch": 1, "weight_norm": ..., "grad_norm": ..., "update_ratio": ...,
                             "dead_fraction": ... or null, "activation_mean": ..., "activation_std": ...}, ...]},
                ...],
     "warnings": [{"kind": ..., "layer": ..., "epoch": ..., "value": ..., "message": ...}, ...]}

Layers come in forward order. ``weight_norm``: ‖the layer's weights and bias‖₂ at the epoch's end.
``grad_norm``: ‖their gradient‖₂ from the epoch's LAST training step (one batch, not an epoch average).
``update_ratio``: ‖w_end − w_start‖ / ‖w_start‖ over the whole epoch. ``dead_fraction``: units a ReLU
after the layer zeroes on all 128 probe digits (null where no ReLU follows). ``activation_mean/std``:
the layer's output after its activation on those digits.
"""
from __future__ import annotations

import argparse
import json
import sys

from core.inside.diagnosis import inside_warnings
from core.inside.storage import load_inside
from core.inside.views import TABLE, layer_series
from core.store.run_store import RunStore

HEADINGS = {"weight_norm": "weight norm", "grad_norm": "grad norm (last step)", "update_ratio": "update ratio",
            "dead_fraction": "dead units"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.inside", description=__doc__.split("\n")[0],
        epilog="grad norm: of the epoch's last step; update ratio: ‖Δw‖/‖w‖ over the epoch; dead units: share of "
               "a ReLU's units that output 0 on all 128 probe digits.")
    parser.add_argument("--run", required=True, help="the run whose recording to print")
    parser.add_argument("--runs-dir", default=None, help="run store folder (default: $DIGITLAB_RUNS_DIR or ./runs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: a readable table)")
    return parser


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if name == "dead_fraction" else f"{value:.4g}"


def table_text(series: list[dict]) -> str:
    """One block per layer: a row per epoch with TABLE's numbers."""
    widths = [5] + [max(12, len(HEADINGS[name])) for name in TABLE]
    blocks = []
    for layer in series:
        title = f"{layer['name']}  {layer['kind']}" + (f" + {layer['activation']}" if layer["activation"] else "")
        lines = [f"{title}  ({layer['parameters']:,} parameters)",
                 "  ".join(h.rjust(w) for h, w in zip(["epoch"] + [HEADINGS[n] for n in TABLE], widths))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(
            [str(row["epoch"])] + [_cell(name, row[name]) for name in TABLE], widths)) for row in layer["epochs"]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        payload = load_inside(RunStore(args.runs_dir), args.run)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    series, warnings = layer_series(payload), inside_warnings(payload)
    if args.json:
        print(json.dumps({"layers": series, "warnings": [w.to_dict() for w in warnings]}))
        return 0
    print(table_text(series))
    for warning in warnings:
        print(f"\nwarning: {warning.message}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
