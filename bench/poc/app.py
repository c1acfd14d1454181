"""The proof of concept's store, as it was built: bottle on its default
single-threaded server, TinyDB keeping every snapshot in one JSON file that
is read and rewritten whole on every insert.

    python app.py PORT DB_FILE
"""

import sys

from bottle import Bottle, request, run
from tinydb import TinyDB

port, path = int(sys.argv[1]), sys.argv[2]
app = Bottle()
db = TinyDB(path)


@app.post("/service")
def add():
    db.insert(request.json)
    return {"stored": True}


@app.get("/service")
def everything():
    return {"items": db.all()}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


run(app, host="127.0.0.1", port=port, quiet=True)
