"""Data sets, loaders, partitioning and metrics."""

from gradcode.data.amazon import amazon_features, amazon_synthetic_table, read_amazon_csv
from gradcode.data.datasets import DATASETS, Dataset, dataset_params, load_dataset
from gradcode.data.files import binarize_labels, read_csv, read_svmlight
from gradcode.data.metrics import auc
from gradcode.data.partition import split_rows, worker_rows
from gradcode.data.synthetic import as_generator, gaussian_mixture

__all__ = [
    "DATASETS",
    "Dataset",
    "amazon_features",
    "amazon_synthetic_table",
    "as_generator",
    "auc",
    "binarize_labels",
    "dataset_params",
    "gaussian_mixture",
    "load_dataset",
    "read_amazon_csv",
    "read_csv",
    "read_svmlight",
    "split_rows",
    "worker_rows",
]
