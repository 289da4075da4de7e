"""Benchmarks of dask-cluster-launcher against baselines measured in the same run.

Run ``python benchmarks/run.py [--quick] [--only launch,watch,slurm,sge]``; see README.md here.
"""
