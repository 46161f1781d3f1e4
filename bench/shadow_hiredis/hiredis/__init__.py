"""Stands in for an absent hiredis (bench.ab's `no_hiredis` variant puts this directory first on the path)."""

raise ImportError("hiredis hidden by bench/shadow_hiredis for an A/B run")
