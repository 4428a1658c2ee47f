"""Hear a training run: generated samples as soundscapes, losses as notes, with narration.

    python scripts/sonify.py                  # newest run in runs/: last epoch, progression, losses
    python scripts/sonify.py runs/20250101-120000 --epochs all --format mp3
    python scripts/sonify.py face.png other.png --out sounds/ --no-speech

A run gets RUN/audio/epoch_NNNN.wav (one per sonified epoch grid), progression_sample_NN.wav (one
sample through the epochs, so one hears it form) and losses.wav. Image files get NAME.wav next to
each image. Narration needs espeak-ng; MP3 needs ffmpeg.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _common import Parser, quiet_stderr

# Sonifying needs no TensorFlow, but `import wgan` may load it: keep its start-up chatter quiet.
with quiet_stderr():
    from wgan.errors import WganError
    from wgan.run_folder import (
        LOSSES_AUDIO,
        RunFolder,
        epoch_name,
        progression_name,
        sample_labels,
    )
    from wgan.sonification import (
        Mapping,
        Narrator,
        brightness_words,
        epoch_facts,
        epoch_folders,
        export,
        ffmpeg_available,
        heard_series,
        images_audio,
        load_image,
        losses_audio,
        newest_run,
        parse_epochs,
        read_metrics,
        run_words,
        sample_files,
        speech_available,
    )

RUNS_DIR = "runs"  # folder whose newest run is used when no path is given
EPOCHS = "last"  # epoch grids to sonify: last, all, or a list such as 1,5,10
SAMPLES = 8  # samples played per epoch grid, in grid order (0 plays them all)
SAMPLE = 0  # index of the sample followed across epochs in the progression file
SECONDS = 1.0  # time to scan one image from left to right
FMIN = 500.0  # pitch of the bottom row in Hz
FMAX = 5000.0  # pitch of the top row in Hz
SAMPLE_RATE = 44100  # audio sample rate in Hz
FORMAT = "wav"  # wav, or mp3 (needs ffmpeg; the WAV is written as well)
SPEECH_RATE = 175  # narration speed in words per minute
PROGRESSION_MAX = 20  # most epochs in the progression file, evenly spaced (0 keeps all)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(
        description="Turn a training run (or image files) into sound: The vOICe soundscapes "
        "of generated samples, loss notes, and spoken narration.",
        epilog="Mapping: higher pitch = higher in the image, louder = brighter, left to right "
        "in --seconds, left ear to right ear; red adds an octave overtone, blue a hollow "
        "overtone, green and grey are pure tones.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, help="a run folder, or image files (default: newest run)"
    )
    parser.add_argument("--runs-dir", type=Path, default=Path(RUNS_DIR), help="where runs live")
    parser.add_argument("--epochs", default=EPOCHS, help="last, all, or epochs such as 1,5,10")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="samples per grid (0: all)")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="sample for progression file")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="scan time per image")
    parser.add_argument("--fmin", type=float, default=FMIN, help="bottom-row pitch in Hz")
    parser.add_argument("--fmax", type=float, default=FMAX, help="top-row pitch in Hz")
    parser.add_argument("--sample-rate", type=int, default=SAMPLE_RATE, help="audio rate in Hz")
    parser.add_argument("--format", choices=("wav", "mp3"), default=FORMAT, help="also MP3?")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: RUN/audio, or beside each image)"
    )
    parser.add_argument("--no-speech", action="store_true", help="leave the narration out")
    parser.add_argument("--speech-rate", type=int, default=SPEECH_RATE, help="words per minute")
    parser.add_argument(
        "--progression-max",
        type=int,
        default=PROGRESSION_MAX,
        help="most epochs in the progression file, evenly spaced (0: all)",
    )
    parser.add_argument("--no-legend", action="store_true", help="skip the spoken listening guide")
    args = parser.parse_args(argv)
    if args.samples < 0:
        parser.error(f"--samples must be 0 (all) or more, got {args.samples}")
    if args.sample < 0:
        parser.error(f"--sample must be 0 or more, got {args.sample}")
    if args.progression_max < 0:
        parser.error(f"--progression-max must be 0 (all) or more, got {args.progression_max}")
    if not 80 <= args.speech_rate <= 500:
        parser.error(f"--speech-rate must be 80 to 500 words per minute, got {args.speech_rate}")
    try:
        args.mapping = Mapping(args.seconds, args.fmin, args.fmax, args.sample_rate)
    except WganError as err:
        parser.error(str(err))
    return args


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class Writer:
    """Writes each sound as WAV, and as MP3 too when asked and possible; reports what it wrote."""

    def __init__(self, fmt: str) -> None:
        self.mp3 = fmt == "mp3"
        if self.mp3 and not ffmpeg_available():
            warn("--format mp3 needs ffmpeg, which is not installed; writing WAV only")
            self.mp3 = False
        self.written: list[Path] = []

    def __call__(self, segment, path: Path) -> None:
        formats = ("wav", "mp3") if self.mp3 else ("wav",)
        for fmt in formats:
            self.written.append(export(segment, path.with_suffix(f".{fmt}"), fmt))
            print(self.written[-1], flush=True)


def make_narrator(args: argparse.Namespace) -> Narrator | None:
    if args.no_speech:
        return None
    if not speech_available():
        warn("no speech engine found, narration left out (install espeak-ng libespeak-ng1)")
        return None
    return Narrator(sample_rate=args.sample_rate, words_per_minute=args.speech_rate)


def readable(paths: list[Path]) -> list[tuple[Path, object]]:
    """(path, image) for each image that can be read; a warning names each one that cannot."""
    loaded = []
    for path in paths:
        try:
            loaded.append((path, load_image(path)))
        except WganError as err:
            warn(f"{err}; skipped")
    return loaded


def evenly_spaced(items: list, most: int) -> list:
    """At most `most` items (0: all), evenly spread, always keeping the first and the last."""
    if not most or len(items) <= most:
        return items
    if most == 1:
        return items[-1:]
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, most)).astype(int))
    return [items[i] for i in picks]


def said_label(labels: dict[str, str], path: Path) -> str:
    """"label 7, " for a sample of a conditional run (from labels.json), else nothing."""
    label = labels.get(path.name)
    return f"label {label}, " if label else ""


def _sample_number(path: Path) -> int:
    return int(path.stem.split("_")[-1])


def translation_sounds(loaded: list, inputs: Path) -> tuple[list[str], list]:
    """Each translated sample after the input it was made from (``images/inputs/``)."""
    by_name = dict(readable([inputs / path.name for path, _ in loaded]))
    intros, images = [], []
    for path, image in loaded:
        number = _sample_number(path)
        source = by_name.get(inputs / path.name)
        if source is not None:
            intros.append(f"Example {number}, input, {brightness_words(source)}.")
            images.append(source)
        intros.append(f"Example {number}, output, {brightness_words(image)}.")
        images.append(image)
    return intros, images


def sonify_run(run: Path, args: argparse.Namespace, write: Writer) -> None:
    folder = RunFolder(run)
    epochs = epoch_folders(run)
    chosen = parse_epochs(args.epochs, list(epochs))
    try:
        metrics = read_metrics(folder.metrics, heard_series(run))
    except WganError as err:
        warn(f"{err}; no loss facts and no losses.wav")
        metrics = None
    narrator = make_narrator(args)
    out = args.out or folder.audio
    legend = not args.no_legend

    for epoch in chosen:
        files = sample_files(epochs[epoch])
        loaded = readable(files[: args.samples or None])
        if not loaded:
            warn(f"{epochs[epoch]}: no readable samples; epoch {epoch} skipped")
            continue
        header = f"{run_words(run.name)}, epoch {epoch}. {epoch_facts(metrics, epoch)}"
        labels = sample_labels(epochs[epoch])
        if folder.translation_inputs.is_dir():  # an image-to-image run: input, then output
            intros, images = translation_sounds(loaded, folder.translation_inputs)
        else:
            intros = [f"Sample {_sample_number(p)}, {said_label(labels, p)}"
                      f"{brightness_words(img)}." for p, img in loaded]  # fmt: skip
            images = [img for _, img in loaded]
        audio = images_audio(images, intros, args.mapping, narrator, header, legend)
        write(audio, out / epoch_name(epoch))

    followed = [
        (epoch, files[args.sample])
        for epoch, folder in epochs.items()
        if len(files := sample_files(folder)) > args.sample
    ]
    followed = evenly_spaced(followed, args.progression_max)
    loaded_by_path = dict(readable([path for _, path in followed]))
    progression = [(e, loaded_by_path[path]) for e, path in followed if path in loaded_by_path]
    if progression:
        said = {epoch: said_label(sample_labels(path.parent), path) for epoch, path in followed}
        intros = [
            f"Epoch {epoch}, {said[epoch]}{brightness_words(image)}. {epoch_facts(metrics, epoch)}"
            for epoch, image in progression
        ]
        images = [image for _, image in progression]
        header = f"{run_words(run.name)}: sample {args.sample} through {len(images)} epochs."
        audio = images_audio(images, intros, args.mapping, narrator, header, legend)
        write(audio, out / progression_name(args.sample))
    else:
        warn(f"no epoch of {run} has sample {args.sample}; no progression file")

    if metrics is not None:
        write(losses_audio(metrics, args.sample_rate, narrator), out / LOSSES_AUDIO)


def sonify_images(paths: list[Path], args: argparse.Namespace, write: Writer) -> bool:
    """One soundscape file per image; an unreadable one is an error, the others still get done."""
    narrator = make_narrator(args)
    ok = True
    for path in paths:
        try:
            image = load_image(path)
        except WganError as err:
            print(f"error: {err}", file=sys.stderr)
            ok = False
            continue
        label = said_label(sample_labels(path.parent), path)
        intro = f"{path.stem.replace('_', ' ')}, {label}{brightness_words(image)}."
        audio = images_audio([image], [intro], args.mapping, narrator, "", not args.no_legend)
        write(audio, (args.out or path.parent) / path.stem)
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    write = Writer(args.format)
    try:
        missing = [p for p in args.paths if not p.exists()]
        if missing:
            raise WganError(f"{missing[0]}: no such file or folder")
        folders = [p for p in args.paths if p.is_dir()]
        if folders and len(args.paths) > 1:
            raise WganError("give one run folder, or image files, not both")
        if args.paths and not folders:
            return 0 if sonify_images(args.paths, args, write) else 1
        sonify_run(folders[0] if folders else newest_run(args.runs_dir), args, write)
    except WganError as err:
        sys.exit(f"error: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
