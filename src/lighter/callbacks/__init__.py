"""Lightning callbacks for lighter experiments: prediction writers and a parameter freezer."""

from lighter.callbacks.file_writer import FileWriter
from lighter.callbacks.freezer import Freezer
from lighter.callbacks.table_writer import TableWriter

__all__ = ["FileWriter", "TableWriter", "Freezer"]
