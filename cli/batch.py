"""``zhurong-tk batch``: any per-file command over many files, resumably, in parallel."""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from pathlib import Path

import click

from zhurong_tk.errors import EXIT_INPUT_FAILED, EXIT_USAGE, ZhurongError

#: The commands a batch can run, and the file types it collects from folders and globs.
BATCHABLE = {
    ("audio", "analyze"): "audio",
    ("video", "frames"): "video",
    ("tracks", "detect"): "image",
    ("radar", "radargram"): "pds4",
}


class CommandFailed(ZhurongError):
    """One input's command ended with an error (its message and exit code are the
    command's own: 2 for an option value this input cannot take)."""

    def __init__(self, message: str, exit_code: int = EXIT_INPUT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@functools.cache
def prepare_command(words: tuple[str, str]) -> None:
    """Load a command's modules and compiled kernels, once per worker process."""
    from zhurong_tk.cli.main import cli
    from zhurong_tk.warmup import compile_kernels

    _resolve(click.Context(cli), words)
    family = {("audio", "analyze"): "audio", ("tracks", "detect"): "tracks"}.get(words)
    for _ in compile_kernels([family] if family else []):
        pass


def _suffixes(kind: str) -> frozenset[str]:
    from zhurong_tk.batch.inputs import PDS4_IMAGE_LABELS, PDS4_LABELS, PDS4_SIGNAL_LABELS
    from zhurong_tk.io.sniff import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

    return {
        # the sound inside videos too, and PDS4 products with a signal, by their labels
        "audio": AUDIO_SUFFIXES | VIDEO_SUFFIXES | {PDS4_SIGNAL_LABELS},
        "video": VIDEO_SUFFIXES,
        "image": IMAGE_SUFFIXES | {PDS4_IMAGE_LABELS},  # camera products by their labels
        "pds4": frozenset({PDS4_LABELS}),  # labels by content, whatever their names
    }[kind]


def _resolve(ctx: click.Context, words: tuple[str, str]) -> click.Command:
    root = ctx.find_root().command
    group = root.get_command(ctx, words[0]) if isinstance(root, click.Group) else None
    command = group.get_command(ctx, words[1]) if isinstance(group, click.Group) else None
    if command is None or tuple(words) not in BATCHABLE:
        names = ", ".join(" ".join(k) for k in BATCHABLE)
        raise click.UsageError(f"batch runs one of: {names}; got {' '.join(words)!r}")
    return command


def run_command(words: tuple[str, str], options: list[str], path: Path, folder: Path) -> dict:
    """Run ``zhurong-tk WORDS PATH --out FOLDER OPTIONS`` in this process (on a worker);
    returns which report it wrote and its digest (counts of its main lists). Its error
    message becomes a :class:`CommandFailed`."""
    from zhurong_tk.cli.main import cli

    ctx = click.Context(cli)
    command = _resolve(ctx, words)
    args = ["--out", str(folder), *options, "--", str(path)]  # a path may start with "-"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            command.main(
                args=args, prog_name=f"zhurong-tk {' '.join(words)}", standalone_mode=False
            )
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except ZhurongError as exc:
            raise CommandFailed(str(exc), exc.exit_code) from None
        except click.ClickException as exc:
            raise CommandFailed(exc.format_message(), exc.exit_code) from None
    if status:
        lines = [line for line in err.getvalue().splitlines() if line.startswith("zhurong-tk:")]
        message = lines[0].removeprefix("zhurong-tk: error: ") if lines else f"exit {status}"
        raise CommandFailed(message, status)
    from zhurong_tk.batch.overview import read_digest

    reports = [name for name in ("report.json", "index.json") if (folder / name).is_file()]
    return {"report": reports[0] if reports else None, "digest": read_digest(folder)}


def _split(command: click.Command, tokens: list[str]) -> tuple[list[str], list[str]]:
    """The command's inputs (its positional words) and its option tokens, by its options:
    a value-taking option consumes the words after it (``--every 2s``), a flag none."""
    takes: dict[str, int] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                takes[name] = 0 if (param.is_flag or param.count) else param.nargs
    inputs: list[str] = []
    options: list[str] = []
    words = iter(tokens)
    for token in words:
        if token == "--":
            inputs += list(words)
            break
        name = token.split("=", 1)[0]
        if token.startswith("-") and name in takes:
            options.append(token)
            if "=" not in token:
                options += [next(words, "") for _ in range(takes[name])]
        elif token.startswith("-") and len(token) > 1:
            options.append(token)  # unknown: the command's check below names it
        else:
            inputs.append(token)
    return inputs, options


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores]."
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run on this Dask scheduler instead [default: $DASK_SCHEDULER_ADDRESS or local].",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Longest time for one input, seconds; then it fails and the run goes on.",
)
@click.option("--manifest", type=click.Path(dir_okay=False), default=None, help="Input list.")
@click.option("--retry-failed", is_flag=True, help="Run inputs that failed before again.")
@click.option("--force", is_flag=True, help="Run every input again.")
@click.argument("command_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def batch(
    ctx, out_dir, jobs, scheduler, timeout_s, manifest, retry_failed, force, command_args
) -> None:
    """Run COMMAND over many files: zhurong-tk batch --out DIR tracks detect [OPTIONS] INPUTS...

    INPUTS are files, folders (searched recursively for the command's file types), or globs;
    --manifest adds a list (one path per line, or a CSV with a path column). Each input gets
    its own folder under --out, mirroring its path; OUT/ledger.jsonl records every input, so
    running the same line again does only what is left. A bad, crashing or hung input fails
    alone (exit status 1 at the end; 2 when the command's options suit none of the inputs).
    --timeout counts from the input's start: each worker loads the command's code first.
    """
    import time

    from zhurong_tk.batch import run_batch

    if len(command_args) < 2:
        raise click.UsageError("name the command, e.g. 'tracks detect', then its inputs")
    words = (command_args[0], command_args[1])
    command = _resolve(ctx, words)
    rest = list(command_args[2:])
    # the command's own options tell its inputs from its option values
    inputs, options = _split(command, rest)
    if not inputs and manifest is None:
        raise click.UsageError("no inputs given")
    # the options are checked once here, not once per input on the workers
    command.make_context(" ".join(words), [*options, "--out", str(out_dir), "input"], parent=ctx)
    quiet = ctx.meta.get("zhurong_tk.quiet") or not sys.stderr.isatty()
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(unit="file", file=sys.stderr, desc=" ".join(words))

    def progress(record: dict) -> None:
        if record["status"] == "failed":
            error = record["error"]
            if record["input"] not in error and record["path"] not in error:
                error = f"{record['input']}: {error}"  # a timeout, a crash: say which file
            click.echo(f"zhurong-tk: error: {error}", err=True)
        if bar is not None:
            bar.update()

    started = time.perf_counter()
    try:
        summary = run_batch(
            functools.partial(run_command, words, options),
            inputs,
            out_dir,
            command=" ".join(words),
            options={"args": options},
            suffixes=_suffixes(BATCHABLE[words]),
            manifest=manifest,
            jobs=jobs,
            scheduler=scheduler,
            timeout_s=timeout_s,
            retry_failed=retry_failed,
            force=force,
            progress=progress,
            prepare=functools.partial(prepare_command, words),
        )
    finally:
        if bar is not None:
            bar.close()
    earlier = (
        f" ({summary.failed_before} failed before: --retry-failed runs them again)"
        if summary.failed_before
        else ""
    )
    click.echo(
        f"{summary.done} done, {summary.skipped} skipped{earlier}, {summary.failed} failed "
        f"in {time.perf_counter() - started:.1f} s → {Path(out_dir) / 'index.json'}"
        " (overview.jpg, ledger.jsonl beside it)"
    )
    failed = [r for r in summary.records if r["status"] == "failed"]
    if failed and not summary.done and all(r.get("exit_code") == EXIT_USAGE for r in failed):
        # the options suit none of the inputs (e.g. a band above every file's Nyquist):
        # a usage error, as for one file
        ctx.exit(EXIT_USAGE)
    if summary.failed or summary.failed_before:  # the archive is not all done
        ctx.exit(EXIT_INPUT_FAILED)
