"""Evaluation of model rankings against ground-truth transfer performance."""
