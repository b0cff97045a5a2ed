"""Sweeps: many configs and seeds trained as ordinary runs from a queue in the store, and the speed-up ladder.

``python -m core.sweep --lr 0.0003,0.003 --seeds 0,1 --epochs 2 --json`` runs a sweep from a shell.
"""
