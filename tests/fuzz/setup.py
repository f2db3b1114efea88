"""Prepares a contract-fuzzing run (scripts/fuzz) against a running local stack.

Usage: setup.py BASE_URL OPENAPI CONFIG

1. Checks that CONFIG (schemathesis.toml) gives every operation of OPENAPI exactly one token
   (an operation missing there would be fuzzed without one and only ever see 401), and that
   every operation has one of the tags in FUZZ_PASS_TAGS (the passes of scripts/fuzz).
2. Obtains real tokens through the API itself: the local admin by `POST /v1/auth/staff/login`,
   a staff member the admin creates with `POST /v1/staff`, and customers signed up with
   `POST /v1/auth/otp` + `POST /v1/auth/login` using the code the local stack echoes
   (`OTP_DEV_ECHO=1`).

Prints `export NAME=VALUE` lines for the shell to evaluate. Standard library and PyYAML only.
"""

import json
import os
import sys
import tomllib
import urllib.error
import urllib.request

import yaml

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def fail(message):
    print(f"[fuzz] ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def check_config(openapi_path, config_path):
    with open(openapi_path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    operations = {
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method in METHODS
    }
    tags = set(filter(None, os.environ.get("FUZZ_PASS_TAGS", "").split(",")))
    if tags:
        untagged = sorted(
            op["operationId"]
            for item in document["paths"].values()
            for method, op in item.items()
            if method in METHODS and not tags.intersection(op.get("tags", []))
        )
        if untagged:
            fail(f"no pass of scripts/fuzz includes a tag of these operations: {', '.join(untagged)}")
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    seen = {}
    for group in config.get("operations", []):
        ids = group.get("include-operation-id", [])
        for op in [ids] if isinstance(ids, str) else ids:
            if op in seen:
                fail(f"{config_path}: {op} is listed twice")
            seen[op] = group.get("headers", {}).get("Authorization", "no token")
    missing = sorted(operations - seen.keys())
    unknown = sorted(seen.keys() - operations)
    if missing:
        fail(f"{config_path} gives no token to these operations of {openapi_path}: {', '.join(missing)}")
    if unknown:
        fail(f"{config_path} names operations that {openapi_path} lacks: {', '.join(unknown)}")
    return len(operations)


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        fail(f"{method} {path} answered {error.code}: {error.read().decode(errors='replace')[:500]}")


def customer(base, phone, name):
    """Signs a new customer up and returns its access token."""
    sent = call(base, "POST", "/v1/auth/otp", {"phone": phone})
    code = sent.get("dev_code") or fail("POST /v1/auth/otp echoed no dev_code: is OTP_DEV_ECHO=1 set?")
    login = {"phone": phone, "code": code, "name": name, "device_name": "fuzz"}
    return call(base, "POST", "/v1/auth/login", login)["access_token"]


def main():
    base, openapi_path, config_path = sys.argv[1:4]
    count = check_config(openapi_path, config_path)
    print(f"[fuzz] {config_path} gives each of the {count} operations one token", file=sys.stderr)

    admin_email = os.environ["LOCAL_ADMIN_EMAIL"]
    admin_password = os.environ["LOCAL_ADMIN_PASSWORD"]
    admin = call(base, "POST", "/v1/auth/staff/login", {"email": admin_email, "password": admin_password})
    staff_account = {
        "email": "fuzz.staff@example.com",
        "password": "fuzz staff password 0123",
        "name": "Fuzz Staff",
        "role": "staff",
    }
    call(base, "POST", "/v1/staff", staff_account, token=admin["access_token"])
    staff = call(
        base,
        "POST",
        "/v1/auth/staff/login",
        {"email": staff_account["email"], "password": staff_account["password"]},
    )
    security_account = {
        "email": "fuzz.security@example.com",
        "password": "fuzz security password 0123",
        "name": "Fuzz Security",
        "role": "staff",
    }
    call(base, "POST", "/v1/staff", security_account, token=admin["access_token"])
    security = call(
        base,
        "POST",
        "/v1/auth/staff/login",
        {"email": security_account["email"], "password": security_account["password"]},
    )
    tokens = {
        "FUZZ_ADMIN_TOKEN": admin["access_token"],
        "FUZZ_STAFF_TOKEN": staff["access_token"],
        "FUZZ_STAFF_SECURITY_TOKEN": security["access_token"],
        # E.164 numbers of Zambia (valid whatever the default region), one customer each.
        "FUZZ_CUSTOMER_TOKEN": customer(base, "+260971230001", "Fuzz Customer"),
        "FUZZ_SESSIONS_TOKEN": customer(base, "+260971230002", "Fuzz Sessions"),
        "FUZZ_LOGOUT_TOKEN": customer(base, "+260971230003", "Fuzz Logout"),
        "FUZZ_REVOKE_ALL_TOKEN": customer(base, "+260971230004", "Fuzz Revoke"),
        "FUZZ_ERASED_TOKEN": customer(base, "+260971230005", "Fuzz Erased"),
    }
    for name, value in tokens.items():
        print(f"export {name}={value}")


if __name__ == "__main__":
    main()
