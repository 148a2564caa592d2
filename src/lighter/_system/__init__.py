"""The parts of :class:`lighter.System` that are not the step itself.

``arguments`` checks and normalizes the constructor's arguments (collecting every problem),
``dataloaders`` rebuilds dataloaders when a tuner changes the batch size, and ``log_names``
formats the logged names and the optimizer values logged each epoch. Nothing here is public:
import :class:`lighter.System`.
"""

__all__: list[str] = []
