"""Shared fixtures: paths, the optional FULCRA reference file, a fake OpenAI-compatible server."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FULCRA = Path(os.environ.get("VALUELAB_FULCRA", ROOT.parent / "shared" / "fulcra"))


@pytest.fixture
def fulcra_dev():
    path = FULCRA / "trustworthy_dev.jsonl"
    if not path.exists():
        pytest.skip(f"FULCRA reference file not found at {path} (third-party data, not shipped)")
    return path


class FakeChat(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions that echoes; ``script`` scripts failures."""

    script: list = []  # per request: "ok", "429", "500", "timeout", "garbage"
    seen: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        mode = self.script.pop(0) if self.script else "ok"
        if mode in ("429", "500"):
            self.send_response(int(mode))
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "scripted failure"}}')
            return
        if mode == "timeout":  # answer nothing until the client has given up
            threading.Event().wait(3)
            return
        user = body["messages"][-1]["content"]
        content = "not json {" if mode == "garbage" else self.content(body) if hasattr(self, "content") \
            else f"echo: {user}"
        out = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": content}}],
               "usage": {"prompt_tokens": 1, "completion_tokens": len(content.split()), "total_tokens": 2}}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_openai():
    FakeChat.script, FakeChat.seen = [], []
    if "content" in FakeChat.__dict__:
        del FakeChat.content
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", FakeChat
    server.shutdown()
