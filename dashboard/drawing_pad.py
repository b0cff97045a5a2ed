"""A 28x28-digit drawing pad for the Inspect page, built with Streamlit's own components API."""
import streamlit as st

# A drawing pad from Streamlit's own components API (streamlit-drawable-canvas is not available):
# white ink on black like MNIST; the PNG goes to Python when the pen lifts, or blank on Clear.
CANVAS_HTML = '<canvas width="280" height="280"></canvas><br><button type="button">Clear</button>'
CANVAS_CSS = """canvas { touch-action: none; border-radius: 0.5rem; cursor: crosshair; }
button { font: inherit; color: inherit; background: transparent; border: 1px solid var(--st-border-color, #ccc);
         border-radius: 0.5rem; padding: 0.25rem 0.75rem; margin-top: 0.5rem; cursor: pointer; }"""
CANVAS_JS = """
export default function ({ parentElement, setStateValue }) {
  const canvas = parentElement.querySelector("canvas"), pen = canvas.getContext("2d");
  const blank = () => { pen.fillStyle = "black"; pen.fillRect(0, 0, canvas.width, canvas.height); };
  if (!canvas.dataset.ready) { blank(); canvas.dataset.ready = "1"; }
  const at = (e) => { const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height]; };
  let last = null;
  const draw = (e) => { const p = at(e); Object.assign(pen, {strokeStyle: "white", lineWidth: 20, lineCap: "round"});
    pen.beginPath(); pen.moveTo(...last); pen.lineTo(...p); pen.stroke(); last = p; };
  const send = () => setStateValue("png", canvas.toDataURL("image/png"));
  canvas.onpointerdown = (e) => { last = at(e); canvas.setPointerCapture(e.pointerId); draw(e); };
  canvas.onpointermove = (e) => { if (last) draw(e); };
  canvas.onpointerup = canvas.onpointercancel = () => { if (last) { last = null; send(); } };
  parentElement.querySelector("button").onclick = () => { blank(); send(); };
}
"""
canvas = st.components.v2.component("inspect_digit_canvas", html=CANVAS_HTML, css=CANVAS_CSS, js=CANVAS_JS)
