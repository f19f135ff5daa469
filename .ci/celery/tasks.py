"""Celery side of .ci/bench-celery: one no-op task on a local Redis."""
from celery import Celery
app = Celery("tasks", broker="redis://127.0.0.1:16379/0", backend="redis://127.0.0.1:16379/1")
app.conf.result_expires = 3600

@app.task
def echo(payload):
    return payload
