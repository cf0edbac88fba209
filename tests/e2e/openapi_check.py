# Validates resyncd's real responses against doc/openapi.yaml: each response
# body against the schema its path, method and status declare (a status the
# file does not list fails), each accepted request body against its request
# schema, and at the end every operation of the file must have been called.
# Spec alone validates other replies (resyncctl --json) against the same
# schemas.
import re
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from resyncd_client import Client, EventStream

URN = "urn:resyncd-openapi"


class Spec:
    """doc/openapi.yaml loaded, to validate values against its schemas."""

    def __init__(self, spec_path):
        self.spec = yaml.safe_load(open(spec_path))
        self.registry = Registry().with_resource(URN, Resource.from_contents(self.spec, DRAFT202012))

    def resolve(self, obj):
        while "$ref" in obj:
            node = self.spec
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def validate(self, schema, value, what):
        """schema has its refs made absolute (_rebase)."""
        errors = sorted(Draft202012Validator(schema, registry=self.registry).iter_errors(value), key=str)
        if errors:
            raise AssertionError(f"{what}: {errors[0].message} at {list(errors[0].absolute_path)}: {value}")

    def _rebase(self, schema):
        """schema with every local $ref made absolute to the file."""
        if isinstance(schema, dict):
            return {k: (URN + v if k == "$ref" and v.startswith("#") else self._rebase(v)) for k, v in schema.items()}
        if isinstance(schema, list):
            return [self._rebase(x) for x in schema]
        return schema

    def check_response(self, name, value, what):
        """value against the application/json schema of components/responses/name."""
        media = self.resolve({"$ref": f"#/components/responses/{name}"})["content"]["application/json"]
        self.validate(self._rebase(media["schema"]), value, what)

    def check_schema(self, name, value, what):
        """value against components/schemas/name."""
        self.validate({"$ref": f"{URN}#/components/schemas/{name}"}, value, what)


class CheckedClient(Client, Spec):
    def __init__(self, spec_path, path=None):
        Client.__init__(self, path)
        Spec.__init__(self, spec_path)
        self.called = set()
        self.routes = []
        for tmpl in self.spec["paths"]:
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", tmpl) + "$"
            self.routes.append((re.compile(rx), tmpl))

    def call(self, method, url, body=None):
        status, hdrs, out = super().call(method, url, body)
        path = url.split("?")[0]
        tmpl = next((t for rx, t in self.routes if rx.match(path)), None)
        if tmpl is None:
            assert status == 404, (method, url, status)
            return status, hdrs, out
        op = self.spec["paths"][tmpl].get(method.lower())
        if op is None:
            assert status == 405, (method, url, status)
            return status, hdrs, out
        self.called.add((tmpl, method.upper()))
        resp = op["responses"].get(str(status))
        assert resp is not None, f"{method} {tmpl}: status {status} is not documented: {out}"
        resp = self.resolve(resp)
        for ctype, media in resp.get("content", {}).items():
            if ctype == "application/json":
                self.validate(self._rebase(media["schema"]), out, f"{method} {url} -> {status}")
            else:
                assert isinstance(out, str), out
        for name, h in resp.get("headers", {}).items():
            assert name in hdrs, f"{method} {url}: no {name} header"
            self.validate(self._rebase(h["schema"]), hdrs[name], f"{method} {url} header {name}")
        if 200 <= status < 300 and isinstance(body, dict) and "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            self.validate(self._rebase(schema), body, f"{method} {url} request")
        return status, hdrs, out

    def events(self, query="", last_event_id=None):
        """Opens GET /v1/events: its first event, its data validated
        against the operation's x-event-data schema."""
        op = self.spec["paths"]["/v1/events"]["get"]
        resp = op["responses"]["200"]
        assert "text/event-stream" in resp["content"], resp
        s = EventStream(self.path, query, last_event_id)
        try:
            ev = s.next()
        finally:
            s.close()
        self.called.add(("/v1/events", "GET"))
        if ev["event"] != "reset":
            assert ev["event"] == ev["data"]["Kind"] and ev["id"] == ev["data"]["Id"], ev
            self.validate(self._rebase(resp["x-event-data"]), ev["data"], f"GET /v1/events{query}")
        return ev

    def uncovered(self):
        ops = {(t, m.upper()) for t, item in self.spec["paths"].items() for m in item if m != "parameters"}
        return sorted(ops - self.called)
