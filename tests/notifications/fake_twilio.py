"""A small local HTTP fake of Twilio's REST API (Messages.json), for the real SDK to talk to, the
way billing tests talk to localstripe: it records every message POST (with its Basic auth) and
answers like Twilio, including its refusals."""

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTwilio:
    def __init__(self):
        self.messages: list[dict] = []
        self.refuse: dict[str, int] = {}  # number -> Twilio error code answered with a 400
        self.fail_next = 0  # this many 500s first (a Twilio outage)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = base64.b64decode(self.headers.get("Authorization", "Basic ")[6:]).decode()
                if not self.path.endswith("/Messages.json"):
                    return self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                if fake.fail_next:
                    fake.fail_next -= 1
                    return self._answer(500, {"code": 20500, "message": "Internal error", "status": 500})
                if form.get("To") in fake.refuse:
                    code = fake.refuse[form["To"]]
                    return self._answer(400, {"code": code, "message": "Refused", "status": 400})
                sid = "SM" + uuid.uuid4().hex
                fake.messages.append({"sid": sid, "path": self.path, "auth": auth, **form})
                return self._answer(
                    201,
                    {
                        "sid": sid,
                        "status": "queued",
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "account_sid": auth.split(":")[0],
                    },
                )

            def _answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
