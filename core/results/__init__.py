"""What finished and running runs produced, as numbers: evaluation, Inspect, live view, comparison, export."""
