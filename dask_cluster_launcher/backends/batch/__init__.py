"""Batch-system backends: the dask-jobqueue base, SLURM, SGE, MPI and what they share."""
