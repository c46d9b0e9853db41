"""moto's server for the tests, answering one request at a time.

moto's own `moto_server` serves requests on threads, and its DynamoDB backend does
not lock items across concurrent requests: two concurrent TransactWriteItems with
the same `attribute_not_exists` condition can both succeed, which DynamoDB itself
never allows. Serving requests one at a time restores DynamoDB's guarantee for
the library's "decided once" test. Usage: serve.py HOST PORT
"""

import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)
