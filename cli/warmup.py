"""``zhurong-tk warmup``: compile the numba kernels ahead, into numba's on-disk cache."""

from __future__ import annotations

import time

import click


@click.command()
def warmup() -> None:
    """Compile every numba kernel now (once per machine and version), not on first use.

    The compiled code goes to numba's cache beside the package (or to
    $NUMBA_CACHE_DIR when the package folder is read-only). The package's Python
    bytecode is compiled too where the install has none.
    """
    from zhurong_tk.warmup import compile_bytecode, compile_kernels

    started = time.perf_counter()
    compiled = compile_bytecode()
    click.echo(
        f"  bytecode: {time.perf_counter() - started:.2f} s"
        + ("" if compiled else " (read-only: left as installed)")
    )
    for name, seconds in compile_kernels():
        click.echo(f"  {name}: {seconds:.2f} s")
    click.echo(f"kernels ready ({time.perf_counter() - started:.1f} s)")
