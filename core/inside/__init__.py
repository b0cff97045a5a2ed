"""What happens inside a network while it trains: per-layer histograms, norms, dead units, a 2-D map, first-layer views.

``recorder.InsideRecorder`` (a training callback) measures at each epoch's end; ``storage`` owns the
run folder's ``inside.pt``; ``views`` turns a record into series and arrays for a page; ``diagnosis``
into plain-language warnings. ``python -m core.inside --run ID`` prints the per-layer numbers.
"""
