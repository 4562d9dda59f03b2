"""Reading PDS4 products: zhurong-tk against pds4_tools' plain read, in one run.

    python3 benchmarks/bench_pds4.py            # 1000 generated RoPeR products (~1 min)
    python3 benchmarks/bench_pds4.py --quick    # 100

The products are :mod:`zhurong_tk.synth.pds4` low-frequency radar products
(40 records of 300 complex samples, 86 kB each, cached in ``--workdir``).
Each case reads every product and touches every column, in its own process
(peak RSS its own), after one untimed product (imports, caches):

- pds4_tools (floor): ``pds4_tools.read(label, quiet=True)`` and every field's array;
- zhurong-tk ``open_product`` + ``read_table``: the same plus the XML safety check
  (defusedxml), the data-file checks and raw bit strings;
- zhurong-tk ``telemetry_from_product``: the above plus the decoded telemetry.

Prints products per second and each case's time ÷ pds4_tools'.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import arguments, best_of, run_process

CASES = {
    "pds4_tools": "pds4_tools.read + every field",
    "open_product": "zhurong-tk open_product + read_table",
    "telemetry": "zhurong-tk telemetry_from_product",
}


def generate(workdir: Path, count: int) -> list[Path]:
    """``count`` products in ``workdir`` (reused when present)."""
    from zhurong_tk.synth import pds4 as synth_pds4

    workdir.mkdir(parents=True, exist_ok=True)
    labels = []
    for i in range(count):
        label = workdir / f"HX1-Ro_SYNTH_{i:05d}_A.2BL"
        if not (label.exists() and label.with_suffix(".2B").exists()):
            start = f"2021-05-25T04:{20 + i // 600:02d}:{(i // 10) % 60:02d}.601"
            scene = synth_pds4.roper_scene(records=40, samples=300, start=start, seed=i)
            synth_pds4.write(label, scene, truth=False)
        labels.append(label)
    return labels


def case(name: str, listing: str) -> None:
    """Run one case over the labels listed in ``listing``; print its JSON line."""
    labels = Path(listing).read_text().split()

    def read(label: str) -> None:
        if name == "pds4_tools":
            import pds4_tools

            hook = sys.excepthook
            structures = pds4_tools.read(label, quiet=True)
            sys.excepthook = hook
            table = structures[0]
            for field in table.fields:
                field.sum() if field.dtype.kind != "S" else len(field)
        elif name == "open_product":
            from zhurong_tk.io.pds4 import open_product, read_table

            for values in read_table(open_product(label)).values():
                values.sum()
        else:
            from zhurong_tk.io.pds4 import open_product
            from zhurong_tk.telemetry import telemetry_from_product

            telemetry_from_product(open_product(label))

    read(labels[0])  # imports and first-call costs, untimed
    started = time.perf_counter()
    for label in labels:
        read(label)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "products": len(labels)}))


def main() -> None:
    parser = arguments(
        __doc__.splitlines()[0],
        quick="100 products instead of 1000",
        workdir=Path("/tmp/zhurong-bench-pds4"),
        timeout_s=900,
    )
    args = parser.parse_args()
    count = 100 if args.quick else 1000
    labels = generate(args.workdir, count)
    listing = args.workdir / f"labels_{count}.txt"
    listing.write_text("\n".join(str(p) for p in labels))
    rows = {}
    for name in CASES:
        if name in args.skip:
            continue
        argv = [sys.executable, __file__, "--case", name, str(listing)]
        rows[name] = best_of(args.repeat, lambda argv=argv: run_process(argv, args.timeout))
    floor = rows.get("pds4_tools", {}).get("seconds")
    print(f"\n| {count} RoPeR products (86 kB) | seconds | products/s | peak MB | ÷ pds4_tools |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {CASES[name]} | {row['error']} | | | |")
            continue
        ratio = f"{row['seconds'] / floor:.2f}" if floor else ""
        print(
            f"| {CASES[name]} | {row['seconds']:.2f} | {count / row['seconds']:.0f} | "
            f"{row['peak_mb']:.0f} | {ratio} |"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        case(sys.argv[2], sys.argv[3])
    else:
        main()
