"""Readers and writers: motion capture, 2D keypoints, calibration, results."""
