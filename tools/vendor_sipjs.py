"""Copy SIP.js's ES modules from the npm install (``ctibridge/widget/node_modules/sip.js/lib``,
pinned by ``package-lock.json``) into ``ctibridge/widget/vendor/sip.js/``, where the widget imports
them and the wheel ships them. ``--check``: exit 1 when the vendored copy differs.

Run after changing the pinned version: ``sh scripts/install-widget.sh && python tools/vendor_sipjs.py``.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

WIDGET = Path(__file__).resolve().parents[1] / "ctibridge" / "widget"
SOURCE = WIDGET / "node_modules" / "sip.js"
TARGET = WIDGET / "vendor" / "sip.js"


def wanted() -> dict[str, Path]:
    """Vendored name -> npm file: every module of lib/ (no type declarations) and the licence."""
    files = {p.relative_to(SOURCE / "lib").as_posix(): p for p in (SOURCE / "lib").rglob("*.js")}
    files["LICENSE.md"] = SOURCE / "LICENSE.md"
    return files


def differences() -> list[str]:
    files = wanted()
    present = {p.relative_to(TARGET).as_posix() for p in TARGET.rglob("*") if p.is_file()}
    problems = [f"missing {name}" for name in sorted(set(files) - present)]
    problems += [f"extra {name}" for name in sorted(present - set(files))]
    problems += [f"differs {name}" for name in sorted(set(files) & present)
                 if not filecmp.cmp(files[name], TARGET / name, shallow=False)]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare")
    args = parser.parse_args()
    if not SOURCE.is_dir():
        print(f"{SOURCE} missing: run scripts/install-widget.sh", file=sys.stderr)
        return 2
    if args.check:
        problems = differences()
        print("\n".join(problems) or "vendored SIP.js is the npm package")
        return 1 if problems else 0
    shutil.rmtree(TARGET, ignore_errors=True)
    for name, source in wanted().items():
        (TARGET / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, TARGET / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
