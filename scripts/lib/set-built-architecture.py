"""Sets the default of the `Architecture` parameter in a template that `sam build` wrote.

    python3 scripts/lib/set-built-architecture.py .aws-sam/build/template.yaml x86_64

`sam deploy` reads the built template, so after this a plain `sam deploy` declares the CPU the
binaries were built for. Only the one line is rewritten (the template keeps its tags and
comments); the script fails when the parameter or its default is not where it expects them.
"""

import re
import sys


def set_default(text: str, arch: str) -> str:
    block = re.search(r"(?m)^  Architecture:\n((?:    .*\n|\s*\n)+)", text)
    if block is None:
        raise SystemExit("set-built-architecture: no Parameters.Architecture in the template")
    body = block.group(1)
    new_body, count = re.subn(r"(?m)^(    Default:[ \t]*)['\"]?[A-Za-z0-9_]+['\"]?[ \t]*$", rf"\g<1>{arch}", body, count=1)
    if count != 1:
        raise SystemExit("set-built-architecture: Parameters.Architecture has no Default line")
    return text[: block.start(1)] + new_body + text[block.end(1) :]


def main() -> None:
    path, arch = sys.argv[1], sys.argv[2]
    if arch not in ("arm64", "x86_64"):
        raise SystemExit("set-built-architecture: the architecture is arm64 or x86_64")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(set_default(text, arch))
    print(f"set-built-architecture: {path} now deploys {arch} by default", file=sys.stderr)


if __name__ == "__main__":
    main()
