"""Shared code of camops_stream_probe: measure a camera's RTSP stream with ffprobe.

The credentials never appear on a command line (``ps`` would show them to every local user):
ffprobe reads the address with the credentials from an ffconcat list on its standard input,
and every text that leaves this module has the secrets replaced (:func:`scrub`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

from ansible.module_utils.camops_secrets import Credential, scrub

#: ffprobe's answers that mean "wrong credentials" (RTSP digest refused).
REFUSED_MARKERS = ("401 Unauthorized", "authorization failed", "403 Forbidden")


class ProbeError(Exception):
    """The probe failed; ``kind`` is unreachable, credentials or error. No secret inside."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def with_credentials(url: str, credential: Credential | None) -> str:
    """``url`` with the credential as its user information (percent-encoded)."""
    if credential is None:
        return url
    parts = urlsplit(url)
    userinfo = f"{quote(credential.username, safe='')}:{quote(credential.password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def ffconcat(url: str, transport: str, analyze_seconds: float | None = None) -> bytes:
    """An ffconcat list naming the stream: ffprobe reads it from stdin, so the address with
    its credentials stays out of the process list. ``analyze_seconds`` bounds how long the
    stream is analysed before its packets are read (ffmpeg's default: up to 5 s)."""
    quoted = "'" + url.replace("'", "'\\''") + "'"
    text = f"ffconcat version 1.0\nfile {quoted}\noption rtsp_transport {transport}\n"
    if analyze_seconds is not None:
        text += f"option analyzeduration {max(round(analyze_seconds * 1_000_000), 1)}\n"
    return text.encode()


def command(ffprobe: str, seconds: float, *, packets: bool) -> list[str]:
    """ffprobe's arguments: never the address itself (it comes on stdin)."""
    args = [
        ffprobe,
        "-v",
        "error",
        "-f",
        "concat",
        "-safe",
        "0",
        "-protocol_whitelist",
        "pipe,file,rtsp,rtp,tcp,udp,tls,rtsps",
        "-i",
        "pipe:0",
        "-select_streams",
        "v:0",
        "-of",
        "json",
    ]
    if packets:
        args += [
            "-read_intervals",
            f"%+{seconds:g}",
            "-show_streams",
            "-show_entries",
            "packet=pts_time,dts_time,duration_time,size,flags",
        ]
    else:  # only whether the server lets the credential in: as little as it takes
        args += ["-analyzeduration", "0", "-probesize", "32", "-show_entries", "stream=codec_name"]
    return args


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


def _rate(text: Any) -> float | None:
    """ffprobe's "25/1" frame rates."""
    numerator, _, denominator = str(text or "").partition("/")
    top, bottom = _float(numerator), _float(denominator or "1")
    if top is None or not bottom:
        return None
    return top / bottom


def _time(packet: dict[str, Any]) -> float | None:
    pts = _float(packet.get("pts_time"))
    return pts if pts is not None else _float(packet.get("dts_time"))


def measure(answer: dict[str, Any]) -> dict[str, Any]:
    """Codec, resolution, frame rate and bit rate from ffprobe's JSON (streams and packets).

    Frame rate and bit rate are measured from the packets: frames per second of presentation
    time, and bits per second over whole GOPs (first key frame to the last one) when the
    packets hold two key frames or more, else over all packets with the last frame's
    duration. The stream's announced frame rate is returned as ``announced_fps``.
    """
    streams = answer.get("streams") or []
    if not streams:
        raise ProbeError("error", "the stream has no video")
    stream = streams[0]
    packets = [p for p in answer.get("packets") or [] if _time(p) is not None]
    times = sorted(t for t in (_time(p) for p in packets) if t is not None)
    announced = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    fps: float | None = None
    bitrate: float | None = None
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    keys = [i for i, p in enumerate(packets) if "K" in str(p.get("flags", ""))]
    key_times = [_time(packets[i]) or 0.0 for i in keys]
    steps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    # The median frame interval, not the span: a camera whose clock jumps (a restart, a new
    # encoder setting) or a burst of late packets inside the window must not read as another
    # frame rate (found in the lab: 34 fps read from a 15 fps camera whose clock jumped).
    step = steps[len(steps) // 2] if steps else 0.0
    if span > 0 and step > 0:
        fps = 1 / step
        gops = key_times[-1] - key_times[0] if len(keys) > 1 else 0.0
        frames = keys[-1] - keys[0] if len(keys) > 1 else 0
        if gops > 0 and frames > 0:
            total = sum(int(p.get("size") or 0) for p in packets[keys[0] : keys[-1]])
            # Over whole GOPs, timed by their frame count (robust to a clock jump as above).
            bitrate = total * 8 / (frames * step) / 1000
        else:
            total = sum(int(p.get("size") or 0) for p in packets)
            bitrate = total * 8 / (len(packets) * step) / 1000
    return {
        "codec": str(stream.get("codec_name") or ""),
        "width": int(stream.get("width") or 0),
        "height": int(stream.get("height") or 0),
        "fps": round(fps, 2) if fps is not None else None,
        "announced_fps": round(announced, 2) if announced is not None else None,
        "bitrate_kbps": round(bitrate) if bitrate is not None else None,
        "packets": len(packets),
        "measured_s": round(span, 2),
        "keyframes": len(keys),
    }


@dataclass
class Probe:
    url: str
    transport: str = "tcp"
    seconds: float = 3.0
    timeout: float = 20.0
    ffprobe: str = "ffprobe"
    #: How long the stream is analysed before its packets are read. ffmpeg's analysis decodes
    #: until a key frame and six more (or 5 s): a camera with a 4 s GOP reached between two key
    #: frames cost the whole 5 s. Codec and resolution come from the parameter sets (the SDP's,
    #: or the stream's first ones), the frame rate and bit rate from the packets read after; a
    #: stream whose resolution was not known after this is probed again with ffmpeg's default.
    analyze_seconds: float | None = 1.0

    def start(
        self, credential: Credential | None, *, packets: bool, analyze: bool = True
    ) -> Running:
        """Start ffprobe; its output goes to files (several run at once: no pipe fills up)."""
        out = tempfile.TemporaryFile()  # noqa: SIM115  # closed by Running
        err = tempfile.TemporaryFile()  # noqa: SIM115  # closed by Running
        process = subprocess.Popen(  # noqa: S603  # fixed arguments, the address on stdin
            command(self.ffprobe, self.seconds, packets=packets),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
        )
        assert process.stdin is not None  # noqa: S101  # PIPE above
        with contextlib.suppress(BrokenPipeError):  # it may have failed already
            process.stdin.write(
                ffconcat(
                    with_credentials(self.url, credential),
                    self.transport,
                    self.analyze_seconds if packets and analyze else None,
                )
            )
        process.stdin.close()
        return Running(process, out, err)

    def finish(self, running: Running, deadline: float) -> tuple[int, str, str]:
        process = running.process
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            running.close()
            return -1, "", f"no answer in {self.timeout:g} s"
        return process.returncode, *running.read()

    def begin(self, credential: Credential, refused: list[Credential]) -> Pending:
        """Start the stream's probe and one login check per credential of ``refused``."""
        return Pending(
            probe=self,
            credential=credential,
            secrets=[credential.password, *(c.password for c in refused)],
            deadline=time.monotonic() + self.timeout,
            main=self.start(credential, packets=True),
            checks=[(c, self.start(c, packets=False)) for c in refused],
        )

    def run(self, credential: Credential, refused: list[Credential]) -> Outcome:
        return self.begin(credential, refused).collect()


@dataclass
class Outcome:
    figures: dict[str, Any]
    #: users of the credentials that must be refused and were let in
    accepted: list[str]
    #: users whose refusal could not be seen (no 401/403, no stream either)
    unverified: list[str]


@dataclass
class Pending:
    """A probe under way; :meth:`collect` waits for it (all its ffprobe runs at once, so it
    lasts about ``seconds`` plus the connection, however many credentials are checked)."""

    probe: Probe
    credential: Credential
    secrets: list[str]
    deadline: float
    main: Running
    checks: list[tuple[Credential, Running]]

    def collect(self) -> Outcome:
        accepted, unverified = [], []
        for other, running in self.checks:
            code, _out, err = self.probe.finish(running, self.deadline)
            if code == 0:
                accepted.append(other.username)
            elif not any(marker in err for marker in REFUSED_MARKERS):
                unverified.append(other.username)
        code, out, err = self.probe.finish(self.main, self.deadline)
        if code == 0 and self.probe.analyze_seconds is not None and not _sized(out):
            # The parameter sets did not come in the short analysis (no SDP ones, a long GOP):
            # the whole analysis, as ffmpeg does by default, rather than a wrong resolution.
            again = self.probe.start(self.credential, packets=True, analyze=False)
            code, out, err = self.probe.finish(again, time.monotonic() + self.probe.timeout)
        where = scrub(self.probe.url, self.secrets)
        if code != 0:
            reason = scrub(_last_line(err), self.secrets) or f"ffprobe exit code {code}"
            kind = "credentials" if any(m in err for m in REFUSED_MARKERS) else "unreachable"
            raise ProbeError(kind, f"{where}: {reason}")
        try:
            answer = json.loads(out)
        except ValueError:
            raise ProbeError("error", f"{where}: ffprobe gave no JSON") from None
        try:
            figures = measure(answer)
        except ProbeError as error:
            raise ProbeError(error.kind, f"{where}: {error}") from None
        return Outcome(figures, accepted, unverified)


@dataclass
class Running:
    """An ffprobe run and the files of its output."""

    process: subprocess.Popen[bytes]
    out: IO[bytes]
    err: IO[bytes]

    def read(self) -> tuple[str, str]:
        texts = []
        for handle in (self.out, self.err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
            handle.close()
        return texts[0], texts[1]

    def close(self) -> None:
        self.out.close()
        self.err.close()


def _sized(out: str) -> bool:
    """Whether ffprobe's answer gives the video's resolution."""
    try:
        streams = json.loads(out).get("streams") or []
    except (ValueError, AttributeError):
        return True  # nothing a second analysis would mend: collect() reports it
    return bool(streams) and bool(streams[0].get("width")) and bool(streams[0].get("height"))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # ffprobe's own last words are the most specific ("Server returned 401 Unauthorized").
    return lines[-1] if lines else ""
