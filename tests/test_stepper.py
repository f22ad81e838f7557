"""core.stepper: the Convolution page's play / pause / step state machine, on a plain dict."""
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
    s = stepper(3, clock=clock)
    assert s.set_playing(True) is True, "starting needs a timer"
    assert s.interval() == SPEEDS["1"]
    s.advance()
    assert s.step == 0, "a tick before the interval has passed does nothing"
    clock.now += 0.9  # a little early still counts
    s.advance()
    assert s.step == 1 and s.playing
    clock.now += 1
    s.advance()
    assert s.step == 2 and not s.playing and s.interval() is None


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
