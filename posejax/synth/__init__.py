"""Synthetic humans, cameras and observations, and the motion sources they are made from."""
