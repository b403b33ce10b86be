"""The baseline of `bench/http.py`: a bare Flask route in an app of its own, served by the same
gunicorn with the same settings as the license app, so a ratio to it is what the license app adds."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"
