"""core.stepper: the Convolution page's play / pause / step state machine, on a plain dict."""
import pytest

from core.stepper import SPEEDS, Stepper


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def stepper(n=5, state=None, clock=None):
    s = Stepper({} if state is None else state, "conv.cs", n, clock or Clock())
    s.init()
    return s


def test_defaults_and_keys():
    s = stepper()
    assert s.state == {"conv.cs.step": 0, "conv.cs.playing": False, "conv.cs.speed": "1"}
    assert s.interval() is None and not s.at_end


def test_play_steps_on_each_tick_and_stops_at_the_end():
    clock = Clock()
    s = stepper(4, clock=clock)
    assert s.set_playing(True) is True, "starting needs a timer"
    assert s.interval() == SPEEDS["1"]
    clock.now += 5  # the full rerun that starts the timer is slow: no catching up for it
    s.advance()
    assert s.step == 1, "the first tick moves one step"
    clock.now += 0.5
    s.advance()
    assert s.step == 1, "a tick well before the next step is due does nothing"
    clock.now += 0.4  # 0.9 s after the first step: a little early still counts
    s.advance()
    assert s.step == 2 and s.playing
    clock.now += 1.1
    s.advance()
    assert s.step == 3 and not s.playing and s.interval() is None


def test_late_ticks_catch_up_so_the_chosen_pace_is_kept():
    """4 steps/s while each redraw takes 0.55 s (ticks come late): the step still follows the
    clock, skipping the steps there was no time to draw."""
    clock = Clock()
    s = stepper(200, clock=clock)
    s.state["conv.cs.speed"] = "4"
    s.set_playing(True)
    s.advance()
    first_time, first = clock.now, s.step
    shown = [s.step]
    for _ in range(20):
        clock.now += 0.55
        s.advance()
        shown.append(s.step)
    pace = (s.step - first) / (clock.now - first_time)
    assert pace == pytest.approx(4, abs=0.2)
    # 0.55 s × 4 steps/s = 2.2 steps a tick: each late tick jumps two steps, now and then three
    assert {b - a for a, b in zip(shown, shown[1:])} == {2, 3}
    # never past the end, and it stops there
    clock.now += 1000
    s.advance()
    assert s.step == 199 and not s.playing


@pytest.mark.parametrize("speed", ["1", "4", "8"])
def test_ticks_on_time_move_exactly_one_step_each(speed):
    clock = Clock()
    s = stepper(100, clock=clock)
    s.state["conv.cs.speed"] = speed
    s.set_playing(True)
    s.advance()
    for n in range(2, 40):
        clock.now += SPEEDS[speed] * (0.9 if n % 2 else 1.1)  # jittery timer
        s.advance()
        assert s.step == n


def test_a_new_speed_counts_from_the_next_tick():
    clock = Clock()
    s = stepper(100, clock=clock)
    s.set_playing(True)
    s.advance()
    clock.now += 3
    s.advance()
    assert s.step == 4
    s.state["conv.cs.speed"] = "8"
    assert s.speed_changed() is True
    clock.now += 10  # the rerun for the new timer: not counted
    s.advance()
    assert s.step == 5
    clock.now += 1
    s.advance()
    assert s.step == 13


def test_play_at_the_end_starts_over_and_pause_stops():
    s = stepper(3)
    s.go_to(2)
    s.set_playing(True)
    assert s.step == 0 and s.playing
    assert s.set_playing(True) is False, "already playing: same timer"
    assert s.set_playing(False) is True and not s.playing


def test_a_manual_move_stops_playing_and_is_clamped():
    s = stepper(4)
    assert s.go_to(9) is False and s.step == 3
    s.set_playing(True)
    assert s.go_to(-2) is True and s.step == 0 and not s.playing
    s.set_playing(True)
    assert s.go_to(2, stop=False) is False and s.playing


def test_a_cell_click_maps_row_and_column_to_the_step():
    s = stepper(9)
    s.go_to_cell(2, 1, width=3)
    assert s.step == 7


def test_speed_change_needs_a_new_timer_only_while_playing():
    s = stepper()
    assert s.speed_changed() is False
    s.set_playing(True)
    s.state["conv.cs.speed"] = "4"
    assert s.speed_changed() is True and s.interval() == SPEEDS["4"]


def test_clamp_after_the_input_shrank_and_restart():
    state = {"conv.cs.step": 7, "conv.cs.playing": True, "conv.cs.speed": "2"}
    s = Stepper(state, "conv.cs", 1)
    s.clamp()
    assert state["conv.cs.step"] == 0 and state["conv.cs.playing"] is False, "one step can't play"
    state["conv.cs.step"] = 3
    s.restart()
    assert state["conv.cs.step"] == 0 and state["conv.cs.speed"] == "2"


def test_the_jump_boxes_follow_the_cell_only_when_the_step_moved():
    s = stepper(12)
    assert s.cell_moved((3, 4)) == (1, 1), "first view: the first cell"
    assert s.cell_moved((3, 4)) is None, "nothing moved: the boxes keep what the user picked"
    s.go_to(6)
    assert s.cell_moved((3, 4)) == (2, 3)
    assert s.cell_moved((3, 4)) is None
    s.go_to_cell(2, 3, width=4)
    assert s.cell_moved((3, 4)) == (3, 4)
    s.set_playing(True)
    assert s.step == 0 and s.cell_moved((3, 4)) == (1, 1), "play from the end starts over"
    assert s.cell_moved((2, 2)) == (1, 1), "a new grid: the boxes are set again"


def test_each_move_of_the_cell_names_new_jump_boxes():
    """The page keys its Row/Column boxes by the cell generation: a value the browser sends back
    for an older frame lands on a box that is gone (the race a playing animation has with the
    browser), while a pick before Go stays on the current one."""
    s = stepper(9)
    assert s.cell_generation == 0
    s.cell_moved((3, 3))
    assert s.cell_generation == 1
    s.cell_moved((3, 3))
    assert s.cell_generation == 1, "nothing moved: the same boxes (a pick stays)"
    s.go_to(4)
    s.cell_moved((3, 3))
    assert s.cell_generation == 2
    s.cell_moved((2, 2))
    assert s.cell_generation == 3, "a new grid: new boxes"
