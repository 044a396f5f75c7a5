import streamlit as st

st.title("The data")
