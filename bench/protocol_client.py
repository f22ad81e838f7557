"""A visitor without a browser: Streamlit's own websocket protocol, spoken from Python.

One `Session` is one browser tab. It connects to ws://HOST:PORT/_stcore/stream with the
subprotocol the browser sends ("streamlit"), asks for a page with a `BackMsg.rerun_script`
(`ClientState`: query string, page, widget states, the browser's context info) and reads the
`ForwardMsg`s the server sends back, keeping the page as the browser does: elements and blocks by
delta path, stale ones dropped when a run finishes, cached messages (`ref_hash`) resolved from its
own cache, `run_every` fragments (`auto_rerun`) remembered with their interval.

Widgets are found on that page by their user key (the tail of the element id Streamlit builds,
`$$ID-<hash>-<key>`) or their label, never by position; a widget's value is sent the way the
browser sends it (`WidgetState`: trigger for buttons, double array for sliders, formatted strings
for select boxes and select sliders, JSON for components, ...). Nothing in the app is changed or
hooked: the server cannot tell this client from a browser that has no Origin header.

Each interaction (a page load, a widget change, a button press, one auto-rerun of a fragment)
is one `Interaction`: the time from sending the rerun request to the `script_finished` that ends
it (the server's work plus loopback transfer), the payload bytes received meanwhile, and the
exceptions the page showed. One request is in flight per session at a time (a browser may overlap
a fragment's timer with a click; this client waits its turn, so figures are per request).

Messages this client does not understand (a ForwardMsg or Delta type outside HANDLED_*) are never
ignored silently: they are counted in `Session.unknown` by name and shown by `describe_unknown()`.

    async with Session("http://127.0.0.1:8501") as s:
        await s.open("train")                        # page url path ("" for the default page)
        await s.set_value(s.widget(key="train.epochs"), 1)
        await s.click(s.widget(label="Start training"))
        await s.follow(lambda s: s.has_text("Finished:"), timeout=300)  # fragments, as the browser
        print(s.interactions[-1].server_s, s.unknown)
"""
from __future__ import annotations

import asyncio
import collections
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

# Every ForwardMsg type this client acts on (or knowingly has nothing to do with: the browser
# only draws them). Anything else is counted as not understood.
HANDLED_FORWARD = frozenset({
    "new_session", "delta", "script_finished", "session_status_changed", "page_info_changed",
    "page_config_changed", "navigation", "auto_rerun", "stop_auto_rerun", "ref_hash",
    "page_not_found", "logo", "heartbeat_ack", "git_info_changed", "session_event",
})
HANDLED_DELTA = frozenset({"new_element", "add_block"})
FINISHED = ForwardMsg.ScriptFinishedStatus
DONE_STATUSES = {FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                 FINISHED.FINISHED_WITH_COMPILE_ERROR}
CONTEXT = dict(timezone="UTC", timezone_offset=0, locale="en-US", is_embedded=False,
               color_scheme="light")
DEFAULT_TIMEOUT = 120.0       # seconds a rerun may take before it counts as unanswered
FRAGMENT_TIMEOUT = 60.0       # a fragment the server forgot never answers: give up sooner
TEXT_FIELDS = {"markdown": "body", "heading": "body", "alert": "body", "text": "body",
               "progress": "text", "code": "code_text", "exception": "message"}


class ProtocolError(RuntimeError):
    """The server did something this client cannot follow (closed, timed out, unknown widget)."""


@dataclass
class Interaction:
    """One rerun request and what came back for it."""
    kind: str                     # "open", "click", "set", "fragment", "rerun"
    target: str                   # page, widget key/label or fragment id
    sent: float                   # time.monotonic() when the request left
    server_s: float | None = None  # request → script_finished (None: no answer in time)
    bytes: int = 0                # payload bytes received until then
    messages: int = 0
    status: str = ""              # the ending script_finished status, or "timeout"
    exceptions: list[str] = field(default_factory=list)   # exceptions the page showed
    notes: list[str] = field(default_factory=list)        # e.g. "page not found" (the app went on)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("kind", "target", "server_s", "bytes", "messages",
                                              "status", "exceptions", "notes")}


@dataclass
class Node:
    """One element or block on the page, as the last run that touched its delta path left it."""
    path: tuple[int, ...]
    kind: str                     # element or block type: "button", "slider", "vertical", ...
    proto: Any                    # the Element's/Block's sub-message (e.g. a Button)
    run_id: str
    fragment_id: str
    is_block: bool

    @property
    def id(self) -> str:
        return getattr(self.proto, "id", "") if _has_field(self.proto, "id") else ""

    @property
    def label(self) -> str:
        return getattr(self.proto, "label", "") if _has_field(self.proto, "label") else ""

    @property
    def key(self) -> str:
        """The user key Streamlit put at the end of the element id (`$$ID-<hash>-<key>`)."""
        parts = self.id.split("-", 2)
        return parts[2] if len(parts) == 3 and parts[0] == "$$ID" else ""

    @property
    def text(self) -> str:
        name = TEXT_FIELDS.get(self.kind)
        return getattr(self.proto, name, "") if name else ""


def _has_field(msg, name: str) -> bool:
    return name in msg.DESCRIPTOR.fields_by_name


class Session:
    """One browser tab on a Streamlit server, driven through the websocket protocol."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.ws_url = self.base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.timeout = timeout
        self.nodes: dict[tuple[int, ...], Node] = {}
        self.widget_states: dict[str, WidgetState] = {}   # what the browser would send back
        self.auto_reruns: dict[str, float] = {}           # fragment id → interval (s)
        self._next_due: dict[str, float] = {}
        self.pages: dict[str, str] = {}                   # url path → page script hash
        self.page_hash = ""
        self.page_path = ""
        self.query_string = ""
        self.session_id = ""
        self.interactions: list[Interaction] = []
        self.unknown: collections.Counter[str] = collections.Counter()
        self.bytes_received = 0
        self._cache: dict[str, ForwardMsg] = {}
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._run_id = ""
        self._closed_reason: str | None = None

    # ------------------------------------------------------------------ connection
    async def __aenter__(self) -> "Session":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> None:
        self._ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                            open_timeout=self.timeout, ping_interval=None)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 — closing anyway
                pass

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                self._inbox.put_nowait(frame)
        except websockets.ConnectionClosed as e:
            self._closed_reason = f"connection closed ({e.rcvd.code if e.rcvd else 'no code'})"
        finally:
            self._closed_reason = self._closed_reason or "connection closed"
            self._inbox.put_nowait(None)

    # ------------------------------------------------------------------ requests
    async def open(self, path: str = "", query: str = "") -> Interaction:
        """Load a page by its url path, as typing its address would (widget states start empty)."""
        self.page_path, self.query_string = path.strip("/"), query.lstrip("?")
        self.page_hash = self.pages.get(self.page_path, "")
        self.widget_states.clear()
        return await self._rerun("open", self.page_path or "/", page_name=self.page_path)

    async def rerun(self) -> Interaction:
        """A plain rerun of the whole page with the current widget states."""
        return await self._rerun("rerun", self.page_path or "/")

    async def click(self, node: Node) -> Interaction:
        """Press a button (a trigger: sent once, then forgotten, as the browser does)."""
        state = WidgetState(id=node.id, trigger_value=True)
        return await self._rerun("click", node.key or node.label, extra=[state],
                                 fragment_id=self._fragment_of(node))

    async def set_value(self, node: Node, value: Any) -> Interaction | None:
        """Set a widget's value the way the browser encodes it for that widget type. Inside a
        form nothing is sent (None is returned) until the form's submit button is clicked."""
        self.widget_states[node.id] = encode_value(node, value)
        if in_form(node):
            return None
        return await self._rerun("set", node.key or node.label, fragment_id=self._fragment_of(node))

    async def set_json(self, node: Node, value: Any) -> Interaction | None:
        """A component's value (JSON), e.g. the drawing canvas's {"drawing": {...}}."""
        self.widget_states[node.id] = WidgetState(id=node.id, json_value=json.dumps(value))
        if in_form(node):
            return None
        return await self._rerun("set", node.key or node.label, fragment_id=self._fragment_of(node))

    async def rerun_fragment(self, fragment_id: str, auto: bool = True) -> Interaction:
        return await self._rerun("fragment", fragment_id, fragment_id=fragment_id, auto=auto)

    def _fragment_of(self, node: Node) -> str:
        # A widget inside a fragment reruns only that fragment, as in the browser.
        return node.fragment_id

    async def _rerun(self, kind: str, target: str, *, page_name: str = "", extra=(),
                     fragment_id: str = "", auto: bool = False) -> Interaction:
        if self._closed_reason:
            raise ProtocolError(self._closed_reason)
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.page_script_hash = self.page_hash
        cs.page_name = page_name
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = auto
        cs.cached_message_hashes.extend(self._cache)
        states = {**self.widget_states, **{s.id: s for s in extra}}
        cs.widget_states.widgets.extend(states.values())
        for k, v in CONTEXT.items():
            setattr(cs.context_info, k, v)
        cs.context_info.url = f"{self.base_url}/{self.page_path}"
        it = Interaction(kind, target, time.monotonic())
        self.interactions.append(it)
        await self._ws.send(msg.SerializeToString())
        await self._until_finished(it, FRAGMENT_TIMEOUT if kind == "fragment" else self.timeout)
        if fragment_id and kind == "fragment":
            self._next_due[fragment_id] = time.monotonic() + self.auto_reruns.get(fragment_id, 0)
        return it

    async def _until_finished(self, it: Interaction, timeout: float) -> None:
        deadline = it.sent + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                it.status = "timeout"
                return
            try:
                frame = await asyncio.wait_for(self._inbox.get(), left)
            except asyncio.TimeoutError:
                it.status = "timeout"
                return
            if frame is None:
                it.status = "closed"
                self._inbox.put_nowait(None)
                raise ProtocolError(self._closed_reason or "connection closed")
            it.bytes += len(frame)
            it.messages += 1
            status = self._handle(frame, it)
            if status is not None:
                it.status = FINISHED.Name(status)
                if status in DONE_STATUSES:
                    it.server_s = time.monotonic() - it.sent
                    return

    def drain(self) -> None:
        """Apply whatever arrived while nobody was waiting (e.g. a late message)."""
        while not self._inbox.empty():
            frame = self._inbox.get_nowait()
            if frame is None:
                self._inbox.put_nowait(None)
                return
            self._handle(frame, None)

    # ------------------------------------------------------------------ messages
    def _handle(self, frame: bytes, it: Interaction | None) -> int | None:
        """Apply one ForwardMsg; returns a script_finished status when this one is that."""
        self.bytes_received += len(frame)
        msg = ForwardMsg()
        msg.ParseFromString(frame)
        kind = msg.WhichOneof("type")
        if msg.metadata.HasField("run") and msg.metadata.run.script_run_id:
            self._run_id = msg.metadata.run.script_run_id
        if kind == "ref_hash":
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                self.unknown["ref_hash (not in cache)"] += 1
                return None
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = msg
        if kind == "new_session":
            ns = msg.new_session
            self.session_id = ns.initialize.session_id or self.session_id
            if not (msg.metadata.HasField("run") and msg.metadata.run.fragment_ids):
                # Only a full run's pages count: a fragment run's new_session lists the pages by
                # their titles ("Train", not the "train" of st.navigation's url paths), and
                # following them sent "…/Train/train" as this tab's address (the browser keeps its
                # own): every watch link the app then drew pointed at a blank page.
                self._set_pages(ns.app_pages, ns.page_script_hash)
                self.auto_reruns.clear()   # a full run registers its fragments again
                self._next_due.clear()
        elif kind == "navigation":
            self._set_pages(msg.navigation.app_pages, msg.navigation.page_script_hash)
        elif kind == "delta":
            self._apply_delta(msg, it)
        elif kind == "auto_rerun":
            fid, every = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            self.auto_reruns[fid] = every
            self._next_due.setdefault(fid, time.monotonic() + every)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fid, None)
                self._next_due.pop(fid, None)
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            if it is not None:   # the server falls back to the default page and goes on
                it.notes.append(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "script_finished":
            self._finish(msg.script_finished, msg.metadata.run.fragment_ids
                         if msg.metadata.HasField("run") else ())
            return msg.script_finished
        elif kind not in HANDLED_FORWARD:
            self.unknown[f"ForwardMsg.{kind}"] += 1
        return None

    def _set_pages(self, app_pages, current_hash: str) -> None:
        if app_pages:
            self.pages = {p.url_pathname: p.page_script_hash for p in app_pages}
        if current_hash:
            self.page_hash = current_hash
            for path, h in self.pages.items():
                if h == current_hash:
                    self.page_path = path

    def _apply_delta(self, msg: ForwardMsg, it: Interaction | None) -> None:
        delta = msg.delta
        dkind = delta.WhichOneof("type")
        path = tuple(msg.metadata.delta_path)
        if dkind == "new_element":
            etype = delta.new_element.WhichOneof("type")
            node = Node(path, etype, getattr(delta.new_element, etype), self._run_id,
                        delta.fragment_id, False)
            if etype == "exception" and it is not None:
                it.exceptions.append(f"{node.proto.type}: {node.proto.message}"[:300])
        elif dkind == "add_block":
            btype = delta.add_block.WhichOneof("type") or "block"
            node = Node(path, btype, getattr(delta.add_block, btype) if delta.add_block.WhichOneof(
                "type") else delta.add_block, self._run_id, delta.fragment_id, True)
        else:
            self.unknown[f"Delta.{dkind}"] += 1
            return
        self.nodes[path] = node

    def _finish(self, status: int, fragment_ids) -> None:
        """Drop what the finished run did not draw again, as the browser clears stale nodes."""
        if status == FINISHED.FINISHED_SUCCESSFULLY:
            self.nodes = {p: n for p, n in self.nodes.items() if n.run_id == self._run_id}
            live = {n.id for n in self.nodes.values() if n.id}
            self.widget_states = {k: v for k, v in self.widget_states.items() if k in live}
        elif status == FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            frags = set(fragment_ids)
            self.nodes = {p: n for p, n in self.nodes.items()
                          if n.run_id == self._run_id or n.fragment_id not in frags}

    # ------------------------------------------------------------------ reading the page
    def elements(self, kind: str | None = None) -> list[Node]:
        return [self.nodes[p] for p in sorted(self.nodes) if kind is None or self.nodes[p].kind == kind]

    def widgets(self) -> list[Node]:
        return [n for n in self.elements() if n.id]

    def find(self, *, key: str | None = None, label: str | None = None,
             kind: str | None = None) -> list[Node]:
        """Widgets matching a user key (exact), a label (exact) and/or an element type."""
        return [n for n in self.widgets()
                if (key is None or n.key == key) and (label is None or n.label == label)
                and (kind is None or n.kind == kind)]

    def widget(self, **how) -> Node:
        found = self.find(**how)
        if len(found) != 1:
            raise ProtocolError(f"{len(found)} widgets match {how} on page /{self.page_path}")
        return found[0]

    def texts(self, kind: str | None = None) -> list[str]:
        return [n.text for n in self.elements(kind) if n.text]

    def has_text(self, fragment: str, kind: str | None = None) -> bool:
        return any(fragment in t for t in self.texts(kind))

    # ------------------------------------------------------------------ fragments
    async def follow(self, until: Callable[["Session"], bool], timeout: float,
                     max_reruns: int = 10_000) -> bool:
        """Let time pass as in an open tab: rerun each `run_every` fragment when its interval is
        due, until `until(self)` holds (True) or `timeout` s pass / no fragment is left (False)."""
        deadline = time.monotonic() + timeout
        for _ in range(max_reruns):
            self.drain()
            if until(self):
                return True
            if not self.auto_reruns or time.monotonic() >= deadline:
                return False
            fid = min(self.auto_reruns, key=lambda f: self._next_due.get(f, 0.0))
            wait = self._next_due.get(fid, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, deadline - time.monotonic()))
                if time.monotonic() >= deadline:
                    return until(self)
            it = await self.rerun_fragment(fid)
            if it.status == "timeout":   # the server no longer knows this fragment
                self.auto_reruns.pop(fid, None)
        return until(self)

    def describe_unknown(self) -> str:
        if not self.unknown:
            return "every message was understood"
        return "not understood: " + ", ".join(f"{k} ×{v}" for k, v in self.unknown.most_common())


def in_form(node: Node) -> bool:
    return _has_field(node.proto, "form_id") and bool(node.proto.form_id)


def encode_value(node: Node, value: Any) -> WidgetState:
    """`value` as the browser's WidgetState for this kind of widget."""
    s = WidgetState(id=node.id)
    k = node.kind
    if k in ("checkbox", "toggle"):
        s.bool_value = bool(value)
    elif k == "slider" and len(node.proto.options):   # st.select_slider: the formatted options
        s.string_array_value.data.extend(str(v) for v in (value if isinstance(value, (list, tuple))
                                                          else [value]))
    elif k == "slider":
        s.double_array_value.data.extend(float(v) for v in (value if isinstance(value, (list, tuple))
                                                             else [value]))
    elif k == "number_input":
        if node.proto.data_type == type(node.proto).INT:
            s.int_value = int(value)
        else:
            s.double_value = float(value)
    elif k in ("text_input", "text_area", "color_picker", "selectbox", "radio", "date_input",
               "time_input"):
        s.string_value = str(value)
    elif k in ("select_slider", "multiselect", "button_group"):
        s.string_array_value.data.extend(str(v) for v in (value if isinstance(value, (list, tuple))
                                                          else [value]))
    elif k in ("bidi_component", "component_instance"):
        s.json_value = json.dumps(value)
    elif k == "tab_container":
        s.string_value = str(value)
    else:
        raise ProtocolError(f"setting a {k} widget is not supported by this client")
    return s
