"""One runner for every task: concurrent, cached in SQLite, resumable, with retries.

The runner knows nothing about values or countries: it sends `Request`s to a `Backend` and
hands back one `RunResult` per request, in order (`run`), or each as it arrives (`stream`).

Example:
    >>> from valuelens.models import Message, Request, load_backend
    >>> from valuelens.runner import Runner, Store
    >>> runner = Runner(load_backend("embedded"), Store("runs/cache.sqlite"), concurrency=4)
    >>> requests = [Request(messages=(Message("user", f"Say {n}"),), max_tokens=8) for n in range(3)]
    >>> print(runner.estimate(requests).summary())
    >>> results = runner.run_sync(requests)  # `await runner.run(requests)` inside a loop
    >>> [r.response.text for r in results if r.ok]
    >>> print(runner.stats.failure_line or "every request answered")
    >>> async for index, result in runner.stream(requests):  # memory flat in len(requests)
    ...     print(index, result.ok)
    >>> batch = BatchRunner(load_backend("openai:gpt-4o-mini"), Store("runs/cache.sqlite"))
    >>> results = batch.run_sync(requests)  # one provider batch at half price; rerun resumes
"""

from valuelens.runner._batch import BatchEstimate, BatchJob, BatchJournal, BatchRunner
from valuelens.runner._keys import request_key
from valuelens.runner._prices import Estimate, Price, PriceTable
from valuelens.runner._runner import Runner, RunResult, RunStats
from valuelens.runner._store import ResultRecord, Store

__all__ = [
    "BatchEstimate",
    "BatchJob",
    "BatchJournal",
    "BatchRunner",
    "Estimate",
    "Price",
    "PriceTable",
    "ResultRecord",
    "RunResult",
    "RunStats",
    "Runner",
    "Store",
    "request_key",
]
