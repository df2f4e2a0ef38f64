"""The shop: a small Flask app the way the seed served its TurboGears2 app.

A page with a form (POST, then a redirect), a file upload, a JSON API, a
streamed response, and a SQLite database in $DATA_DIR, the app's own
directory on the appliance's data partition. The appliance's pool runs it
with mkimage_wsgi (python = "app:application").
"""

import hashlib
import html
import os
import sqlite3
import time

from flask import Flask, Response, jsonify, redirect, request, url_for

app = Flask(__name__)
application = app  # the name WSGI servers look for

DATA_DIR = os.environ.get("DATA_DIR", ".")
DB = os.path.join(DATA_DIR, "shop.db")


def init_db():
    """Creates the database once, when the process starts (one thread):
    the table, WAL mode (a property of the file), and the directory entry
    synced, since SQLite does not sync the directory it creates the file in.
    Switching to WAL while another connection uses the file can fail at
    once with "database is locked" (SQLite's deadlock avoidance), hence
    the retries."""
    new = not os.path.exists(DB)
    for attempt in range(100):  # the pool's other processes start at the same time
        try:
            with sqlite3.connect(DB, timeout=10) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 99:
                raise
            time.sleep(0.1)
    if new:
        fd = os.open(DATA_DIR, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def db():
    """A connection for one request (sqlite3 objects stay in one thread)."""
    conn = sqlite3.connect(DB, timeout=10)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


init_db()


def notes():
    with db() as conn:
        return [{"id": i, "body": b} for i, b in conn.execute("SELECT id, body FROM notes ORDER BY id")]


def add(body):
    with db() as conn:
        cur = conn.execute("INSERT INTO notes (body) VALUES (?)", (body,))
        return cur.lastrowid


@app.get("/")
def index():
    items = "".join(f"<li>{html.escape(n['body'])}</li>" for n in notes())
    return (
        "<!doctype html><title>shop</title><h1>The shop</h1>"
        f"<p>version {html.escape(os.environ.get('MKIMAGE_VERSION', '-'))}, python on mkimage_wsgi</p>"
        f"<ul>{items}</ul>"
        f"<form method=post action='{url_for('post_note')}'><input name=body><button>add</button></form>"
        f"<form method=post action='{url_for('upload')}' enctype=multipart/form-data>"
        "<input type=file name=file><button>upload</button></form>"
    )


@app.post("/notes")
def post_note():
    body = request.form.get("body", "").strip()
    if not body:
        return "a note needs a body\n", 400
    add(body)
    return redirect(url_for("index"), code=303)


@app.post("/upload")
def upload():
    f = request.files.get("file")
    if f is None:
        return "no file\n", 400
    h, size = hashlib.sha256(), 0
    for chunk in iter(lambda: f.stream.read(64 << 10), b""):
        h.update(chunk)
        size += len(chunk)
    return jsonify(name=f.filename, bytes=size, sha256=h.hexdigest())


@app.get("/api/notes")
def api_notes():
    return jsonify(notes=notes())


@app.post("/api/notes")
def api_add():
    data = request.get_json(silent=True) or {}
    body = str(data.get("body", "")).strip()
    if not body:
        return jsonify(error="a note needs a body"), 400
    return jsonify(id=add(body), body=body), 201


@app.get("/stream")
def stream():
    n = min(int(request.args.get("n", 5)), 100)

    def chunks():
        for i in range(n):
            yield f"chunk {i}\n"
            time.sleep(0.05)

    return Response(chunks(), mimetype="text/plain")


@app.get("/env")
def env():
    """What the server passes: the WSGI and CGI values a prefix fix needed."""
    keys = ["SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_SOFTWARE", "wsgi.multithread", "wsgi.multiprocess"]
    e = {k: str(request.environ.get(k)) for k in keys}
    e.update({k: os.environ.get(k, "") for k in ["LANG", "APP_DIR", "DATA_DIR", "FCGI_MAX_THREADS", "MKIMAGE_VERSION"]})
    return jsonify(e)


@app.get("/health")
def health():
    return "ok\n"
