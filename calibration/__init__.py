"""Calibration of LLM judges: metrics, recalibration, bias studies and reports."""
