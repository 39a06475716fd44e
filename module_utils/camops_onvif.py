"""Shared code of camops_onvif_camera: configure one camera over ONVIF (onvif-zeep-async).

The run, in this order (R2):

1. the camera answers at all (GetSystemDateAndTime needs no login) — else ``unreachable``;
2. log in with the vault credential; if refused, log in with a known factory credential and
   rotate: the vault user gets the vault password (SetUser when the names are the same, else
   CreateUsers as Administrator, verified by a login, then the factory user is deleted);
   the camera keeps no user that is not in the vault (``remove_other_users``);
3. NTP: the given servers, manual, and the clock set to follow NTP;
4. the encoder of the main profile (codec, resolution, frame rate, bit rate);
5. every factory credential is tried again (it must be refused) and the clock skew measured.

Every step reads first and writes only what differs, so a second run changes nothing and check
mode (``dry_run``) reports what would change. Messages never contain a password: every text
that leaves this module goes through :meth:`Run.scrub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ansible.module_utils.camops_secrets import Credential, scrub

try:
    import aiohttp
    from onvif import ONVIFCamera
    from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
    from zeep.exceptions import Fault, TransportError

    HAS_ONVIF = True
    IMPORT_ERROR = ""
except ImportError as error:  # reported by the module with the interpreter's path
    HAS_ONVIF = False
    IMPORT_ERROR = str(error)

# onvif-zeep-async configures the root logger at INFO on import; keep module output clean.
logging.getLogger("onvif").setLevel(logging.WARNING)
logging.getLogger("zeep").setLevel(logging.ERROR)

ADMINISTRATOR = "Administrator"
#: Model codec name -> ONVIF Media (ver10) Encoding.
ENCODINGS = {"h264": "H264", "h265": "H265"}


@dataclass(frozen=True)
class Encoder:
    codec: str
    width: int
    height: int
    fps: int
    bitrate_kbps: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "bitrate_kbps": self.bitrate_kbps,
        }

    def text(self) -> str:
        return f"{self.codec} {self.width}x{self.height} {self.fps} fps {self.bitrate_kbps} kbps"


class CameraError(Exception):
    """The run stopped; ``kind`` is one of unreachable, credentials, ntp, encoder_refused,
    error. The message names the camera and never holds a secret."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Outcome:
    """What the run found and did (or would do in check mode)."""

    actions: list[str] = field(default_factory=list)
    credentials_rotated: bool = False
    factory_credentials_accepted: bool | None = None
    device: dict[str, str] = field(default_factory=dict)
    clock_skew_s: float | None = None
    encoder: dict[str, Any] = field(default_factory=dict)
    #: The run set the encoder (in check mode: would set it; the stream still has the old one).
    encoder_set: bool = False
    ntp: dict[str, Any] = field(default_factory=dict)
    users: list[dict[str, str]] = field(default_factory=list)
    stream_uri: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def result(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "actions": self.actions,
            "credentials_rotated": self.credentials_rotated,
            "factory_credentials_accepted": self.factory_credentials_accepted,
            "device": self.device,
            "clock_skew_s": self.clock_skew_s,
            "encoder": self.encoder,
            "encoder_set": self.encoder_set,
            "ntp": self.ntp,
            "users": self.users,
            "stream_uri": self.stream_uri,
        }


def _refused(error: BaseException) -> bool:
    """A login refusal, as cameras say it (SOAP NotAuthorized, HTTP 401)."""
    if isinstance(error, ONVIFAuthError):
        return True
    if isinstance(error, TransportError):
        return getattr(error, "status_code", 0) in (401, 403)
    if isinstance(error, Fault):
        subcodes = [str(getattr(code, "localname", code)) for code in error.subcodes or []]
        text = f"{error.message} {' '.join(subcodes)}".lower()
        return "notauthorized" in text or "not authorized" in text or "authority" in text
    return False


def _fault_text(error: BaseException) -> str:
    if isinstance(error, Fault):
        return str(error.message or "SOAP Fault")
    return str(error) or type(error).__name__


def _users(answer: Any) -> list[dict[str, str]]:
    return [{"username": str(user.Username), "level": str(user.UserLevel)} for user in answer or []]


def _ntp(information: Any, datetime_type: str) -> dict[str, Any]:
    servers = []
    for entry in getattr(information, "NTPManual", None) or []:
        value = entry.IPv4Address if entry.Type == "IPv4" else entry.DNSname or entry.IPv6Address
        if value:
            servers.append(str(value))
    return {
        "from_dhcp": bool(getattr(information, "FromDHCP", False)),
        "servers": servers,
        "datetime_type": datetime_type,
    }


def _encoder(configuration: Any) -> dict[str, Any]:
    encoding = str(configuration.Encoding or "")
    codec = next((k for k, v in ENCODINGS.items() if v == encoding), encoding.lower())
    rate = configuration.RateControl
    return {
        "codec": codec,
        "width": int(configuration.Resolution.Width),
        "height": int(configuration.Resolution.Height),
        "fps": int(rate.FrameRateLimit) if rate is not None else 0,
        "bitrate_kbps": int(rate.BitrateLimit) if rate is not None else 0,
    }


def _ntp_entry(server: str) -> dict[str, str]:
    parts = server.split(".")
    if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
        return {"Type": "IPv4", "IPv4Address": server}
    return {"Type": "DNS", "DNSname": server}


class Session:
    """One login to the camera: device and media services with one credential."""

    def __init__(self, run: Run, credential: Credential) -> None:
        self.run = run
        self.credential = credential
        self.camera = ONVIFCamera(
            run.host,
            run.port,
            credential.username,
            credential.password,
            no_cache=True,  # the WSDL files are local; parsed documents are cached in-process
            adjust_time=True,  # sign with the camera's clock: a skewed camera still logs in
        )
        self.device: Any = None
        self._media: Any = None

    async def open(self) -> dict[str, str] | None:
        """Log in; the device information, or None when the camera refuses the credential."""
        try:
            await self.run.call(self.camera.update_xaddrs())
            self.device = await self.camera.create_devicemgmt_service()
            info = await self.run.call(self.device.GetDeviceInformation())
        except (Fault, TransportError, ONVIFAuthError) as error:
            if _refused(error):
                return None
            raise self.run.error("error", f"ONVIF login failed: {_fault_text(error)}") from None
        return {
            "manufacturer": str(info.Manufacturer or ""),
            "model": str(info.Model or ""),
            "firmware": str(info.FirmwareVersion or ""),
            "serial": str(info.SerialNumber or ""),
        }

    async def media(self) -> Any:
        if self._media is None:
            self._media = await self.camera.create_media_service()
        return self._media

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection: nothing to report
            await self.camera.close()


class Run:
    """Configure one camera; :meth:`execute` returns the :class:`Outcome` or raises
    :class:`CameraError`."""

    def __init__(
        self,
        *,
        camera_id: str,
        host: str,
        port: int,
        credential: Credential,
        factory_credentials: list[Credential],
        ntp_servers: list[str],
        encoder: Encoder | None,
        timeout: float,
        dry_run: bool,
        remove_other_users: bool = True,
    ) -> None:
        self.camera_id = camera_id
        self.host = host
        self.port = port
        self.credential = credential
        self.known_defaults = list(factory_credentials)
        self.factory = [c for c in factory_credentials if c != credential]
        self.ntp_servers = ntp_servers
        self.encoder = encoder
        self.timeout = timeout
        self.dry_run = dry_run
        self.remove_other_users = remove_other_users
        self.outcome = Outcome()
        self.sessions: list[Session] = []
        self._probe: Any = None  # the login-less client of GetSystemDateAndTime
        self.secrets = sorted(
            {c.password for c in [credential, *factory_credentials] if c.password},
            key=len,
            reverse=True,
        )

    # -- helpers ---------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        scrubbed: str = scrub(text, self.secrets)
        return scrubbed

    def error(self, kind: str, message: str) -> CameraError:
        return CameraError(kind, self.scrub(f"camera {self.camera_id} ({self.host}): {message}"))

    async def call(self, awaitable: Any) -> Any:
        """One request with the run's timeout; network failures become ``unreachable``."""
        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except (TimeoutError, ONVIFTimeoutError):
            raise self.error(
                "unreachable", f"ONVIF at port {self.port} did not answer in {self.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise self.error(
                "unreachable", f"ONVIF at port {self.port} unreachable: {error}"
            ) from None
        except ONVIFError as error:
            cause = error.__cause__
            if isinstance(error, ONVIFAuthError):
                raise
            if isinstance(cause, Fault | TransportError) and _refused(cause):
                raise cause from None
            raise self.error("error", f"ONVIF error: {error}") from None

    def act(self, action: str) -> None:
        self.outcome.actions.append(action)

    async def login(self, credential: Credential) -> tuple[Session, dict[str, str]] | None:
        session = Session(self, credential)
        self.sessions.append(session)
        info = await session.open()
        if info is None:
            await session.close()
            self.sessions.remove(session)
            return None
        return session, info

    async def clock(self, session: Session | None = None) -> tuple[float | None, str, bool]:
        """(camera UTC minus local time in seconds, DateTimeType, DaylightSavings).

        Asked without a login, as ONVIF allows (with ``session``'s login if the camera wants
        one). The camera answers in whole seconds: its time is taken as the middle of that
        second and ours as the middle of the request, so the resolution is about half a second.
        """
        if self._probe is None:
            self._probe = ONVIFCamera(self.host, self.port, None, None, no_cache=True)
        device = await self._probe.create_devicemgmt_service()
        started = time.time()
        try:
            answer = await self.call(device.authless_GetSystemDateAndTime())
        except Fault:
            if session is None:
                return None, "", False  # it answered: reachable, but wants a login
            started = time.time()
            answer = await self.call(session.device.GetSystemDateAndTime())
        ended = time.time()
        utc = answer.UTCDateTime
        if utc is None:
            return None, str(answer.DateTimeType), bool(answer.DaylightSavings)
        camera = datetime(
            utc.Date.Year,
            utc.Date.Month,
            utc.Date.Day,
            utc.Time.Hour,
            utc.Time.Minute,
            utc.Time.Second,
            tzinfo=UTC,
        ).timestamp()
        skew = camera + 0.5 - (started + ended) / 2
        return round(skew, 1), str(answer.DateTimeType), bool(answer.DaylightSavings)

    # -- the run ---------------------------------------------------------------------------
    async def execute(self) -> Outcome:
        try:
            await self._execute()
        finally:
            for session in self.sessions:
                await session.close()
            if self._probe is not None:
                await self._probe.close()
        return self.outcome

    async def _execute(self) -> None:
        out = self.outcome
        if any(c.password == self.credential.password for c in self.known_defaults):
            raise self.error(
                "credentials",
                "the vault credential is a factory default; put a new secret in the vault",
            )
        await self.clock()  # reachable at all? (asks for no login)
        active, out.device = await self._credentials()
        await self._ntp(active)
        refused: CameraError | None = None
        try:
            await self._encoder(active)
        except CameraError as error:  # report it after the checks below
            if error.kind != "encoder_refused":
                raise
            refused = error
        out.stream_uri = await self._stream_uri(active)
        accepted = False
        for factory in self.factory:
            if await self.login(factory) is not None:
                accepted = True
        out.factory_credentials_accepted = accepted
        out.clock_skew_s = (await self.clock(active))[0]
        if refused is not None:
            raise refused

    async def _stream_uri(self, session: Session) -> str:
        """The main profile's RTSP address, as the camera announces it ("" if it will not)."""
        media = await session.media()
        profile = await self._main_profile(media)
        setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
        try:
            answer = await self.call(
                media.GetStreamUri({"StreamSetup": setup, "ProfileToken": profile.token})
            )
        except Fault as error:
            self.outcome.warnings.append(self.scrub(f"GetStreamUri: {_fault_text(error)}"))
            return ""
        return str(answer.Uri or "")

    async def _credentials(self) -> tuple[Session, dict[str, str]]:
        """Log in with the vault credential, rotating the factory one if needed."""
        out = self.outcome
        vault = self.credential
        found = await self.login(vault)
        if found is None:
            factory_session = None
            for factory in self.factory:
                factory_session = await self.login(factory)
                if factory_session is not None:
                    break
            if factory_session is None:
                raise self.error(
                    "credentials",
                    f"refuses the vault credential (user {vault.username!r}) and every known "
                    "factory credential: the credentials are unknown — reset the camera to "
                    "its factory settings, or restore the vault value it was given",
                )
            session, info = factory_session
            users = await self._get_users(session)
            out.before["users"] = users
            await self._rotate(session, users)
            if self.dry_run:  # the factory login stands in for the vault one from here
                await self._remove_others(session, users)
                out.users = out.after["users"] = self._users_after(users)
                return session, info
            found = await self._verified_login()
        session, info = found
        users = await self._get_users(session)
        out.before.setdefault("users", users)
        await self._remove_others(session, users)
        out.users = self._users_after(users)
        out.after["users"] = out.users
        return session, info

    async def _get_users(self, session: Session) -> list[dict[str, str]]:
        try:
            return _users(await self.call(session.device.GetUsers()))
        except Fault as error:
            raise self.error(
                "credentials",
                f"user {session.credential.username!r} may not manage users "
                f"({_fault_text(error)}); it must be an Administrator",
            ) from None

    async def _write(self, action: str, request: Callable[[], Any], kind: str) -> None:
        """Record ``action`` and, unless in check mode, send ``request()``; a Fault fails the
        run with a message naming the action."""
        self.act(action)
        if self.dry_run:
            return
        try:
            await self.call(request())
        except Fault as error:
            raise self.error(kind, f"{action}: the camera refused: {_fault_text(error)}") from None

    async def _rotate(self, session: Session, users: list[dict[str, str]]) -> None:
        vault, device = self.credential, session.device
        user = {"Username": vault.username, "Password": vault.password, "UserLevel": ADMINISTRATOR}
        if any(u["username"] == vault.username for u in users):
            action = f"set the password of user {vault.username} from the vault"
            await self._write(action, lambda: device.SetUser({"User": [user]}), "credentials")
        else:
            action = f"create administrator {vault.username} from the vault"
            await self._write(action, lambda: device.CreateUsers({"User": [user]}), "credentials")
        self.outcome.credentials_rotated = True

    async def _verified_login(self) -> tuple[Session, dict[str, str]]:
        """The camera accepts the vault credential now (it may take a moment to apply)."""
        for _attempt in range(10):
            found = await self.login(self.credential)
            if found is not None:
                return found
            await asyncio.sleep(0.3)
        raise self.error(
            "credentials",
            f"the camera still refuses user {self.credential.username!r} after it was set; "
            "the factory user was kept so the camera stays reachable — run again",
        )

    async def _remove_others(self, session: Session, users: list[dict[str, str]]) -> None:
        factory_names = {c.username for c in self.factory}
        others = [
            u["username"]
            for u in users
            if u["username"] != self.credential.username
            and (self.remove_other_users or u["username"] in factory_names)
        ]
        for name in others:
            await self._write(
                f"delete user {name} (not in the vault)",
                lambda name=name: session.device.DeleteUsers({"Username": [name]}),  # type: ignore[misc]
                "credentials",
            )

    def _users_after(self, users: list[dict[str, str]]) -> list[dict[str, str]]:
        factory_names = {c.username for c in self.factory}
        kept = [
            dict(u)
            for u in users
            if u["username"] != self.credential.username
            and not self.remove_other_users
            and u["username"] not in factory_names
        ]
        return [{"username": self.credential.username, "level": ADMINISTRATOR}, *kept]

    async def _ntp(self, session: Session) -> None:
        out = self.outcome
        device = session.device
        _skew, datetime_type, daylight = await self.clock(session)
        current = _ntp(await self.call(device.GetNTP()), datetime_type)
        out.before["ntp"] = current
        out.ntp = out.after["ntp"] = current
        if not self.ntp_servers:
            return
        wanted = {"from_dhcp": False, "servers": list(self.ntp_servers), "datetime_type": "NTP"}
        if current == wanted:
            return
        if current["servers"] != wanted["servers"] or current["from_dhcp"]:
            entries = [_ntp_entry(server) for server in self.ntp_servers]
            await self._write(
                f"set NTP servers {', '.join(self.ntp_servers)}",
                lambda: device.SetNTP({"FromDHCP": False, "NTPManual": entries}),
                "ntp",
            )
            if not self.dry_run:  # many cameras follow NTP as soon as they have a server
                datetime_type = (await self.clock(session))[1]
        if datetime_type != "NTP":
            await self._write(
                "set the clock to follow NTP",
                lambda: device.SetSystemDateAndTime(
                    {"DateTimeType": "NTP", "DaylightSavings": daylight}
                ),
                "ntp",
            )
        if self.dry_run:
            out.ntp = wanted
        else:
            out.ntp = _ntp(await self.call(device.GetNTP()), (await self.clock(session))[1])
        out.after["ntp"] = out.ntp

    async def _main_profile(self, media: Any) -> Any:
        """The first media profile with a video encoder: the camera's main stream."""
        profiles = await self.call(media.GetProfiles())
        for profile in profiles or []:
            if getattr(profile, "VideoEncoderConfiguration", None) is not None:
                return profile
        raise self.error("encoder_refused", "no media profile with a video encoder")

    async def _offer(self, media: Any, profile: Any) -> Offer | None:
        """What the camera says it can encode (None if it will not say)."""
        try:
            options = await self.call(
                media.GetVideoEncoderConfigurationOptions(
                    {
                        "ConfigurationToken": profile.VideoEncoderConfiguration.token,
                        "ProfileToken": profile.token,
                    }
                )
            )
        except (Fault, CameraError):
            return None
        h264 = getattr(options, "H264", None)
        if h264 is None:
            return Offer(h264=False)
        rate = h264.FrameRateRange
        return Offer(
            h264=True,
            resolutions=[(int(r.Width), int(r.Height)) for r in h264.ResolutionsAvailable or []],
            fps=(int(rate.Min), int(rate.Max)) if rate is not None else None,
        )

    async def _encoder(self, session: Session) -> None:
        out = self.outcome
        media = await session.media()
        profile = await self._main_profile(media)
        configuration = profile.VideoEncoderConfiguration
        current = _encoder(configuration)
        out.before["encoder"] = current
        out.encoder = out.after["encoder"] = current
        wanted = self.encoder
        if wanted is None or current == wanted.as_dict():
            return
        # Recorded once it applies: a camera that refuses the settings is left unchanged.
        action = f"set the encoder to {wanted.text()} (was {Encoder(**current).text()})"
        if self.dry_run:
            offer = await self._offer(media, profile)
            if offer is not None and not offer.allows(wanted):
                raise self.error(
                    "encoder_refused",
                    f"cannot do the encoder settings {wanted.text()}: {offer.text()}",
                )
            self.act(action)
            out.encoder_set = True
            out.encoder = out.after["encoder"] = wanted.as_dict()
            return
        configuration.Encoding = ENCODINGS.get(wanted.codec, wanted.codec.upper())
        configuration.Resolution.Width = wanted.width
        configuration.Resolution.Height = wanted.height
        configuration.RateControl.FrameRateLimit = wanted.fps
        configuration.RateControl.BitrateLimit = wanted.bitrate_kbps
        request = {"Configuration": configuration, "ForcePersistence": True}
        try:
            await self.call(media.SetVideoEncoderConfiguration(request))
        except Fault as error:
            offer = await self._offer(media, profile)
            raise self.error(
                "encoder_refused",
                f"refused the encoder settings {wanted.text()}: {_fault_text(error)}"
                + (f" ({offer.text()})" if offer is not None else ""),
            ) from None
        self.act(action)
        out.encoder_set = True
        token = {"ConfigurationToken": configuration.token}
        out.encoder = _encoder(await self.call(media.GetVideoEncoderConfiguration(token)))
        out.after["encoder"] = out.encoder
        if out.encoder != wanted.as_dict():
            out.warnings.append(
                f"the camera keeps {Encoder(**out.encoder).text()} instead of {wanted.text()}"
            )


@dataclass(frozen=True)
class Offer:
    """The encoder options a camera announces (GetVideoEncoderConfigurationOptions)."""

    h264: bool
    resolutions: list[tuple[int, int]] = field(default_factory=list)
    fps: tuple[int, int] | None = None

    def allows(self, wanted: Encoder) -> bool:
        if wanted.codec != "h264":
            return True  # Media (ver10) announces no H.265: let the camera decide
        if not self.h264 or (wanted.width, wanted.height) not in self.resolutions:
            return False
        return self.fps is None or self.fps[0] <= wanted.fps <= self.fps[1]

    def text(self) -> str:
        if not self.h264:
            return "the camera offers no H.264"
        sizes = ", ".join(f"{w}x{h}" for w, h in self.resolutions) or "no resolution"
        rate = f"{self.fps[0]}-{self.fps[1]} fps" if self.fps else "frame rate unknown"
        return f"the camera offers H.264 at {sizes}, {rate}"


def configure(run: Run) -> Outcome:
    """Run the configuration in a fresh event loop (one module run, one camera)."""
    return asyncio.run(run.execute())


def configure_all(runs: list[Run], concurrency: int) -> list[CameraError | None]:
    """Configure several cameras in one event loop, at most ``concurrency`` at a time.

    Returns each run's failure (or None), in order; every run's :attr:`Run.outcome` holds
    what it found and did, a failed one too. One camera's failure never stops the others.
    """

    async def one(run: Run, gate: asyncio.Semaphore) -> CameraError | None:
        async with gate:
            try:
                await run.execute()
            except CameraError as error:
                return error
            except Exception as error:  # one camera's surprise, not the site's
                return run.error("error", f"unexpected {type(error).__name__}: {error}")
            return None

    async def every() -> list[CameraError | None]:
        gate = asyncio.Semaphore(max(1, concurrency))
        return list(await asyncio.gather(*(one(run, gate) for run in runs)))

    return asyncio.run(every())
