"""Registry-wide work on dask.distributed: a LocalCluster by default, a running cluster by address."""
