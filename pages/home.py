import streamlit as st

from pages.ui import t

st.title("CNN Lab")
st.info(t("common.coming_soon"))
