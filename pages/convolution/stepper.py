"""The Convolution page's player: step through a convolution or pooling one output cell at a time."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from app.errors import guarded
from app.state import PERSIST
from app.ui import t
from core.stepper import SPEEDS, Stepper
from pages.convolution.state import ss


def stepper(prefix: str, n_steps: int, out_shape: tuple[int, int],
            draw: Callable[[int, Callable[[], None]], None]) -> None:
    """Play/pause, step back/forward, first/last, speed, jump to a cell; `draw(i, jump)` shows step i
    and places the jump controls (`jump()`) next to its output grid.

    Lives in a fragment so that playing reruns only this part of the page: while playing, the
    fragment reruns on a timer and moves to the step the clock calls for (core.stepper: the pace
    holds even when a redraw is slower than a step). Starting, stopping or changing the
    speed needs a new timer, hence a full rerun.
    """
    player = Stepper(ss, prefix, n_steps)
    player.clamp()
    interval = player.interval()
    ho, wo = out_shape

    # st.rerun() in these callbacks is not a no-op (checked on Streamlit 1.67): the buttons live
    # in the fragment below, whose widgets rerun only the fragment; a plain st.rerun() from their
    # callback turns that into a full rerun, the only way to start, stop or re-time its timer.
    def go_to(i: int) -> None:
        if player.go_to(i):
            st.rerun()

    def jump_keys() -> tuple[str, str]:
        """The Row and Column boxes' keys for the current cell (core.stepper.cell_generation)."""
        gen = player.cell_generation
        return f"{prefix}.jump_row.{gen}", f"{prefix}.jump_col.{gen}"

    def on_row_col() -> None:
        row_key, col_key = jump_keys()
        r, c = ss.get(row_key) or 1, ss.get(col_key) or 1
        go_to((min(r, ho) - 1) * wo + min(c, wo) - 1)

    def set_playing(on: bool) -> None:
        if player.set_playing(on):
            st.rerun()

    def on_speed() -> None:
        if player.speed_changed():
            st.rerun()

    def jump_controls() -> None:
        """Row and column pickers and a Go button, shown above the output grid.

        The pickers start at the current cell and are new widgets whenever the cell moves (their
        keys carry core.stepper's cell generation): a row just picked, before Go is pressed,
        stays, and a stale value the browser sends back while the animation runs lands on a
        picker that no longer exists. No on_change: choosing alone moves nothing."""
        row_key, col_key = jump_keys()
        row, col = player.step // wo + 1, player.step % wo + 1
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            st.selectbox(t("conv.jump_row"), options=list(range(1, ho + 1)), index=min(row, ho) - 1,
                         key=row_key, width=80)
            st.selectbox(t("conv.jump_col"), options=list(range(1, wo + 1)), index=min(col, wo) - 1,
                         key=col_key, width=80)
            st.button(t("conv.jump_go"), key=f"{prefix}.b_jump", icon=":material/my_location:",
                      on_click=on_row_col, help=t("conv.jump_help"))

    @st.fragment(run_every=interval)
    @guarded
    def body() -> None:
        if interval is not None:
            player.advance()
        if player.interval() != interval:
            st.rerun()  # the animation just ended (or its state changed): new timer, or none
        player.cell_moved(out_shape)  # a new cell: new Row/Column pickers (see jump_controls)
        i, playing, at_end = player.step, player.playing, player.at_end
        bar = st.container(horizontal=True, vertical_alignment="bottom", gap="small", key=f"{prefix}-controls")
        with bar:
            st.button(t("conv.btn_first"), key=f"{prefix}.b_first", icon=":material/first_page:",
                      on_click=go_to, args=(0,), disabled=i == 0)
            st.button(t("conv.btn_back"), key=f"{prefix}.b_back", icon=":material/chevron_left:",
                      on_click=go_to, args=(i - 1,), disabled=i == 0)
            # Two buttons with their own keys, not one that changes label: the browser may show a
            # frame or two behind the server, and a click on a stale "Pause" must never mean "Play".
            if playing:
                st.button(t("conv.btn_pause"), key=f"{prefix}.b_pause", icon=":material/pause:", type="primary",
                          on_click=set_playing, args=(False,))
            else:
                st.button(t("conv.btn_play"), key=f"{prefix}.b_play", icon=":material/play_arrow:", type="primary",
                          on_click=set_playing, args=(True,), disabled=n_steps <= 1)
            st.button(t("conv.btn_forward"), key=f"{prefix}.b_fwd", icon=":material/chevron_right:",
                      icon_position="right", on_click=go_to, args=(i + 1,), disabled=at_end)
            st.button(t("conv.btn_last"), key=f"{prefix}.b_last", icon=":material/last_page:",
                      icon_position="right", on_click=go_to, args=(n_steps - 1,), disabled=at_end)
            st.segmented_control(t("conv.speed"), options=list(SPEEDS), key=player.key("speed"), required=True,
                                 on_change=on_speed, **PERSIST)
        draw(i, jump_controls)

    body()
