"""A stand-in for an external LLM API, which cannot run here: OpenAI Chat Completions and Anthropic
Messages answered over a real TLS 1.3 socket (test CA), recording every request as it arrived.

It checks what the real APIs require (the bearer key for OpenAI; x-api-key and anthropic-version for
Anthropic; model and messages in the body) and answers 401/400 otherwise, so a request in the wrong
shape fails here as it would there. ``reply`` overrides the answer (malformed, oversized, hostile);
``delay`` holds the answer back (timeouts). It never judges anything: the verdict is the test's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudios.security import tls
from tests.support.webhook_receiver import Received, serve_tls

HOST_NAME = "llm.test"
OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
API_KEY = "sk-canary-verifier-KEY-9c1d7e5a2b"


def openai_body(answer: Any, *, model: str = "gpt-test") -> bytes:
    """A Chat Completions response whose message content is ``answer`` (JSON-encoded unless a str)."""
    content = answer if isinstance(answer, str) else json.dumps(answer)
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1764482400,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
    ).encode()


def anthropic_body(answer: Any, *, model: str = "claude-test") -> bytes:
    """A Messages response with the forced tool call carrying ``answer``."""
    return json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "record_verdict", "input": answer}],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 20},
        }
    ).encode()


Reply = Callable[[Received], tuple[int, bytes]]


def _shape_problem(got: Received) -> str | None:  # noqa: PLR0911 - one answer per rule the APIs enforce
    try:
        body = json.loads(got.body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
        return "model and messages are required"
    if got.path == OPENAI_PATH:
        return None if got.headers.get("authorization") == f"Bearer {API_KEY}" else "401"
    if got.path == ANTHROPIC_PATH:
        if got.headers.get("x-api-key") != API_KEY:
            return "401"
        if not got.headers.get("anthropic-version") or not isinstance(body.get("max_tokens"), int):
            return "anthropic-version header and max_tokens are required"
        return None
    return "404"


def default_reply(got: Received) -> tuple[int, bytes]:
    answer = {"verdict": "agree", "reason": "The metrics support the change."}
    return 200, openai_body(answer) if got.path == OPENAI_PATH else anthropic_body(answer)


@dataclass
class FakeLlm:
    """Both APIs on one port; ``received`` holds every request (path, lower-cased headers, body)."""

    address: str
    certs: tls.CertificateFiles
    port: int = 0
    reply: Reply = default_reply
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (e.g. a content-encoding the client did not ask for)."""
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeLlm:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                got = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                fake.received.append(got)
                if fake.delay:
                    time.sleep(fake.delay)
                problem = _shape_problem(got)
                if problem is None:
                    status, body = fake.reply(got)
                else:
                    status = int(problem) if problem.isdigit() else 400
                    body = json.dumps({"error": {"message": problem}}).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    for name, value in fake.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (a timeout test)
                    return

            def log_message(self, *_: object) -> None:
                return

        server = serve_tls((self.address, self.port), Handler, self.certs, name="fake LLM")
        self.port = server.server_address[1]
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str = OPENAI_PATH) -> str:
        return f"https://{self.address}:{self.port}{path}"

    def questions(self) -> list[dict[str, Any]]:
        """The summaries sent (the user message of each request), parsed."""
        out = []
        for got in self.received:
            body = json.loads(got.body)
            content = body["messages"][-1]["content"]
            out.append(json.loads(content))
        return out
