"""Readers for framework weight files, so trained networks run without their frameworks."""
