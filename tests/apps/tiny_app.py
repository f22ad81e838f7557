"""A tiny Streamlit script for tests/test_protocol_client.py: a button, a slider, a text box, a form and a
fragment that reruns itself every 0.2 s until it has counted 3 ticks, then reruns the whole page
once, which draws it without run_every (so its auto-reruns stop)."""
import streamlit as st

st.title("Tiny app")
st.session_state.setdefault("presses", 0)
if st.button("Press me", key="press"):
    st.session_state.presses += 1
st.markdown(f"Presses: {st.session_state.presses}")
level = st.slider("Level", 0, 10, 3, key="level")
st.markdown(f"Level is {level}")
name = st.text_input("Name", key="name")
st.markdown(f"Hello {name or 'nobody'}")
with st.form("greet"):
    st.text_input("Greeting", key="greeting")
    st.form_submit_button("Send")
st.markdown(f"Greeting: {st.session_state.get('greeting') or 'none'}")
st.session_state.setdefault("ticks", 0)
polling = st.session_state.ticks < 3


@st.fragment(run_every=0.2 if polling else None)
def ticker():
    st.session_state.ticks += 1
    st.markdown(f"Ticks: {st.session_state.ticks}" + ("" if polling else " (stopped)"))
    if polling and st.session_state.ticks >= 3:
        st.rerun()  # redraw the page once, without run_every


ticker()
