#!/usr/bin/env python3
"""The application demo's service: a tiny HTTP API over the restored orders
database, started by a hook of scenarios/app-demo.toml once the database is
restored, and stopped by its before_cleanup hook.

GET /health  -> {"status": "ok"}
GET /orders  -> {"database": ..., "count": N, "total": "..."} read with psql

The database comes from the variables firedrill gives every hook and gate:
FIREDRILL_TARGET_ORDERS_DB_{HOST,PORT,USER,DATABASE}; the password from the
variable that FIREDRILL_TARGET_ORDERS_DB_PASSWORD_ENV names (never from a
variable of its own). APP_DEMO_PORT (default 18080), APP_DEMO_STARTUP_DELAY
(seconds to wait before listening, default 0).
"""

import json
import os
import subprocess
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("APP_DEMO_PORT", "18080"))


def target(field):
    return os.environ[f"FIREDRILL_TARGET_ORDERS_DB_{field}"]


def psql(sql):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGHOST": target("HOST"),
        "PGPORT": target("PORT"),
        "PGUSER": target("USER"),
        "PGDATABASE": target("DATABASE"),
        "PGCONNECT_TIMEOUT": "5",
    }
    password_env = os.environ.get("FIREDRILL_TARGET_ORDERS_DB_PASSWORD_ENV", "")
    if password_env:
        env["PGPASSWORD"] = os.environ.get(password_env, "")
    out = subprocess.run(
        ["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env=env, capture_output=True, text=True, timeout=15, check=True,
    )
    return out.stdout.strip()


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.answer(200, {"status": "ok"})
        elif self.path == "/orders":
            try:
                count = int(psql("SELECT count(*) FROM orders"))
                total = psql("SELECT sum(amount) FROM orders")
            except (subprocess.SubprocessError, ValueError) as e:
                self.answer(503, {"error": type(e).__name__})
                return
            self.answer(200, {"database": target("DATABASE"), "count": count, "total": total})
        else:
            self.answer(404, {"error": "not found"})

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main():
    time.sleep(float(os.environ.get("APP_DEMO_STARTUP_DELAY", "0")))
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"orders API on http://127.0.0.1:{PORT} over database {target('DATABASE')}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
