"""Fitting SMPL parameters with L-BFGS: retargeting, and (later) bundle adjustment."""
