"""Reference fine-tuning MCP server for tuneloop (Python `mcp` SDK, MCPServer).

It implements the whole tool contract of docs/mcp.md: upload a JSONL training file, create a
job (idempotent by key), get, cancel, list jobs, list events. Jobs live in memory and move
validating_files -> queued -> running -> succeeded on a clock (one step every
FT_SERVER_STEP_SECONDS); a training file that is not JSONL with chat examples fails during
validation. No model is trained: see README.md for how a provider would put a real trainer
behind these tools.

Every HTTP request must carry `Authorization: Bearer <FT_SERVER_TOKEN>`; others get HTTP 401.

Run:  FT_SERVER_TOKEN=secret python server.py            (serves http://127.0.0.1:8765/mcp)
Env:  FT_SERVER_HOST (127.0.0.1), FT_SERVER_PORT (8765), FT_SERVER_TOKEN (required),
      FT_SERVER_STEP_SECONDS (2), FT_SERVER_DELAY_SECONDS (0: a fault switch for tests that
      delays every tool call), FT_SERVER_CLOCK (`time`; `manual`: for tests, jobs move only
      when the extra tool `reference_advance_clock` is called, one step per call's `steps`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Literal

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

# ----------------------------------------------------------------------------- result models
# Tools return pydantic models, so the SDK sends them as `structuredContent` (with an output
# schema) and as a JSON text block for older clients.


class JobError(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    id: str
    status: Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    base_model: str
    fine_tuned_model: str | None
    training_file: str
    validation_file: str | None
    trained_tokens: int | None
    created_at: int
    finished_at: int | None
    error: JobError | None


class UploadedFile(BaseModel):
    file_id: str
    bytes: int
    lines: int


class JobPage(BaseModel):
    jobs: list[Job]
    has_more: bool


class Event(BaseModel):
    id: str
    created_at: int
    level: Literal["info", "warning", "error"]
    message: str


class EventPage(BaseModel):
    events: list[Event]


class ClockState(BaseModel):
    steps: int


class Hyperparameters(BaseModel):
    n_epochs: int | None = Field(default=None, ge=1, le=50)
    learning_rate_multiplier: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, ge=1)


# ----------------------------------------------------------------------------- state


@dataclass
class StoredFile:
    file_id: str
    filename: str
    content: str
    bytes: int
    lines: int


@dataclass
class JobState:
    job: Job
    method: str
    epochs: int
    started: float  # monotonic clock at creation: the status is a function of elapsed time
    created_step: int  # the manual clock at creation (FT_SERVER_CLOCK=manual)
    problem: str | None  # why validation fails, found when the job is created
    tokens: int  # trained tokens reported on success
    steps_done: int = 0  # state-machine steps already applied (and their events emitted)
    events: list[Event] = field(default_factory=list)


STATUSES_IN_ORDER = ["validating_files", "queued", "running", "succeeded"]


class Registry:
    """Files, jobs and idempotency keys, in memory, behind one lock."""

    def __init__(self, step_seconds: float, manual: bool = False) -> None:
        self.step = step_seconds
        self.manual = manual
        self.manual_steps = 0  # moved only by `reference_advance_clock`
        self.lock = threading.Lock()
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, JobState] = {}
        self.order: list[str] = []  # job ids, oldest first
        self.keys: dict[str, str] = {}  # idempotency key -> job id
        self.counter = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter:06d}"

    def event(self, state: JobState, level: str, message: str) -> None:
        state.events.append(
            Event(id=self.next_id("ftevent"), created_at=int(time.time()), level=level, message=message)
        )

    def advance(self, state: JobState) -> None:
        """Applies the steps the clock says have happened since the job was created."""
        job = state.job
        if job.status in ("succeeded", "failed", "cancelled"):
            return
        if self.manual:
            due = self.manual_steps - state.created_step
        elif self.step > 0:
            due = int((time.monotonic() - state.started) / self.step)
        else:
            due = 3
        while state.steps_done < min(due, 3):
            state.steps_done += 1
            if state.steps_done == 1:
                if state.problem is not None:
                    job.status = "failed"
                    job.finished_at = int(time.time())
                    job.error = JobError(code="invalid_training_file", message=state.problem)
                    self.event(state, "error", f"Training file validation failed: {state.problem}")
                    return
                job.status = "queued"
                self.event(state, "info", "Files validated; job queued")
            elif state.steps_done == 2:
                job.status = "running"
                self.event(state, "info", f"Fine-tuning started ({state.epochs} epochs)")
            else:
                job.status = "succeeded"
                job.finished_at = int(time.time())
                job.trained_tokens = state.tokens
                job.fine_tuned_model = fine_tuned_name(job)
                self.event(state, "info", f"Job succeeded: {job.fine_tuned_model} ({state.tokens} trained tokens)")


def fine_tuned_name(job: Job) -> str:
    return f"ft:{job.base_model}:tuneloop:{job.id}"


def jsonl_lines(content: str) -> list[str]:
    """The lines of a JSONL text: split at `\n` only, a `\r` before it dropped.

    Not `str.splitlines()`, which also splits at U+2028, U+0085, `\x1c`... that a JSON string
    may hold raw: an example quoting such text would be cut in two and fail as not JSON.
    """
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the end of the last line, not an empty line after it
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def check_training_file(content: str, method: str) -> tuple[str | None, int]:
    """Returns (problem or None, token estimate) for a JSONL training file.

    The token count is a whitespace-word estimate: a real trainer would use its tokenizer.
    """
    tokens = 0
    examples = 0
    for number, line in enumerate(jsonl_lines(content), start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except json.JSONDecodeError as e:
            return f"line {number}: not JSON ({e.msg})", 0
        if not isinstance(example, dict):
            return f"line {number}: not a JSON object", 0
        if method == "dpo":
            messages = (example.get("input") or {}).get("messages") if isinstance(example.get("input"), dict) else None
            outputs = [example.get("preferred_output"), example.get("non_preferred_output")]
            if not isinstance(messages, list) or not all(isinstance(o, list) and o for o in outputs):
                return f"line {number}: a DPO example needs input.messages, preferred_output and non_preferred_output", 0
            messages = messages + outputs[0]
        else:
            messages = example.get("messages")
            if not isinstance(messages, list) or not messages:
                return f"line {number}: no `messages` list", 0
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                return f"line {number}: a message without a `role`", 0
            tokens += 4 + len(str(m.get("content") or "").split())
        examples += 1
    if examples == 0:
        return "the file has no examples", 0
    return None, tokens


# ----------------------------------------------------------------------------- tools


def build_server(registry: Registry, delay_seconds: float) -> MCPServer:
    server = MCPServer(
        "tuneloop-reference-finetune",
        instructions="Reference fine-tuning server: jobs are simulated on a clock, nothing is trained.",
    )

    async def fault_delay() -> None:
        if delay_seconds > 0:
            await asyncio.sleep(delay_seconds)

    def get_state(job_id: str) -> JobState:
        state = registry.jobs.get(job_id)
        if state is None:
            raise ToolError(f"job not found: {job_id}")
        registry.advance(state)
        return state

    @server.tool()
    async def fine_tuning_upload_file(filename: str, purpose: str, content: str, sha256: str) -> UploadedFile:
        """Uploads a JSONL training or validation file; `sha256` is the hex digest of `content` (UTF-8)."""
        await fault_delay()
        if purpose != "fine-tune":
            raise ToolError(f"purpose must be `fine-tune`, not `{purpose}`")
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if not hmac.compare_digest(digest, sha256.lower()):
            raise ToolError(f"sha256 mismatch: the content hashes to {digest}")
        lines = sum(1 for line in jsonl_lines(content) if line.strip())
        with registry.lock:
            stored = StoredFile(registry.next_id("file"), filename, content, len(content.encode("utf-8")), lines)
            registry.files[stored.file_id] = stored
        return UploadedFile(file_id=stored.file_id, bytes=stored.bytes, lines=stored.lines)

    @server.tool()
    async def fine_tuning_create_job(
        base_model: str,
        training_file: str,
        method: Literal["supervised", "dpo"],
        idempotency_key: str,
        validation_file: str | None = None,
        hyperparameters: Hyperparameters | None = None,
        suffix: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Job:
        """Creates a fine-tuning job. A repeated `idempotency_key` returns the job first created with it."""
        await fault_delay()
        if not idempotency_key.strip():
            raise ToolError("idempotency_key must not be empty")
        with registry.lock:
            existing = registry.keys.get(idempotency_key)
            if existing is not None:
                state = registry.jobs[existing]
                registry.advance(state)
                return state.job.model_copy(deep=True)
            train = registry.files.get(training_file)
            if train is None:
                raise ToolError(f"training_file not found: {training_file}")
            if validation_file is not None and validation_file not in registry.files:
                raise ToolError(f"validation_file not found: {validation_file}")
            problem, tokens = check_training_file(train.content, method)
            epochs = (hyperparameters.n_epochs if hyperparameters and hyperparameters.n_epochs else None) or 3
            job = Job(
                id=registry.next_id("ftjob"),
                status="validating_files",
                base_model=base_model,
                fine_tuned_model=None,
                training_file=training_file,
                validation_file=validation_file,
                trained_tokens=None,
                created_at=int(time.time()),
                finished_at=None,
                error=None,
            )
            state = JobState(job=job, method=method, epochs=epochs, started=time.monotonic(), created_step=registry.manual_steps, problem=problem, tokens=tokens * epochs)
            registry.event(state, "info", f"Job created; validating {training_file}")
            registry.jobs[job.id] = state
            registry.order.append(job.id)
            registry.keys[idempotency_key] = job.id
            return job.model_copy(deep=True)

    @server.tool()
    async def fine_tuning_get_job(job_id: str) -> Job:
        """The job as it is now."""
        await fault_delay()
        with registry.lock:
            return get_state(job_id).job.model_copy(deep=True)

    @server.tool()
    async def fine_tuning_cancel_job(job_id: str) -> Job:
        """Cancels a job that has not finished; a finished job is returned unchanged."""
        await fault_delay()
        with registry.lock:
            state = get_state(job_id)
            if state.job.status not in ("succeeded", "failed", "cancelled"):
                state.job.status = "cancelled"
                state.job.finished_at = int(time.time())
                registry.event(state, "info", "Job cancelled")
            return state.job.model_copy(deep=True)

    @server.tool()
    async def fine_tuning_list_jobs(after: str | None = None, limit: int | None = None) -> JobPage:
        """Jobs, newest first; `after` is the last job id of the previous page; `limit` 1..100 (20)."""
        await fault_delay()
        limit = 20 if limit is None else limit
        if not 1 <= limit <= 100:
            raise ToolError("limit must be between 1 and 100")
        with registry.lock:
            ids = list(reversed(registry.order))
            if after is not None:
                if after not in registry.jobs:
                    raise ToolError(f"after: job not found: {after}")
                ids = ids[ids.index(after) + 1 :]
            page = ids[:limit]
            jobs = []
            for job_id in page:
                state = registry.jobs[job_id]
                registry.advance(state)
                jobs.append(state.job.model_copy(deep=True))
            return JobPage(jobs=jobs, has_more=len(ids) > limit)

    @server.tool()
    async def fine_tuning_list_events(job_id: str, after: str | None = None, limit: int | None = None) -> EventPage:
        """A job's events, oldest first; `after` is the last event id already seen; `limit` 1..100 (20)."""
        await fault_delay()
        limit = 20 if limit is None else limit
        if not 1 <= limit <= 100:
            raise ToolError("limit must be between 1 and 100")
        with registry.lock:
            events = get_state(job_id).events
            if after is not None:
                ids = [e.id for e in events]
                if after not in ids:
                    raise ToolError(f"after: event not found: {after}")
                events = events[ids.index(after) + 1 :]
            return EventPage(events=[e.model_copy() for e in events[:limit]])

    if registry.manual:
        # Only with FT_SERVER_CLOCK=manual: tests (the provider conformance suite) step jobs
        # deterministically instead of racing a wall clock. Not part of the contract.
        @server.tool()
        async def reference_advance_clock(steps: Annotated[int, Field(ge=1, le=1000)] = 1) -> ClockState:
            """Test control: moves the manual clock `steps` steps; each unfinished job moves one status per step."""
            with registry.lock:
                registry.manual_steps += steps
                return ClockState(steps=registry.manual_steps)

    return server


# ----------------------------------------------------------------------------- HTTP + auth


class BearerAuth:
    """ASGI middleware: HTTP requests without `Authorization: Bearer <token>` get 401."""

    def __init__(self, app, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "unauthorized", "message": "missing or wrong bearer token"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="tuneloop-reference-finetune"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def main() -> int:
    token = os.environ.get("FT_SERVER_TOKEN", "")
    if not token:
        print("FT_SERVER_TOKEN must be set (the bearer token clients must send)", file=sys.stderr)
        return 2
    host = os.environ.get("FT_SERVER_HOST", "127.0.0.1")
    port = int(os.environ.get("FT_SERVER_PORT", "8765"))
    step = float(os.environ.get("FT_SERVER_STEP_SECONDS", "2"))
    delay = float(os.environ.get("FT_SERVER_DELAY_SECONDS", "0"))
    clock = os.environ.get("FT_SERVER_CLOCK", "time")
    if clock not in ("time", "manual"):
        print(f"FT_SERVER_CLOCK must be `time` or `manual`, not `{clock}`", file=sys.stderr)
        return 2
    server = build_server(Registry(step, manual=clock == "manual"), delay)
    app = BearerAuth(server.streamable_http_app(streamable_http_path="/mcp", host=host), token)
    pace = "manual clock" if clock == "manual" else f"step {step}s"
    print(f"reference fine-tuning MCP server on http://{host}:{port}/mcp ({pace})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
