// CNN Lab's drawing canvas (Predict, Your classes): black freehand strokes on white, Undo and
// Redo, and the picture sent to the server the moment a stroke ends.
//
// Why not streamlit-drawable-canvas (used until 2026-12-05): its fabric.js bundle (413 kB) waits a
// fixed 200 ms after each stroke before it tells the server (its `Bc = 200` debounce), which was
// most of a drawn digit's time to its prediction on an idle machine (0.21 of 0.31 s, issue 22),
// and it sends fabric's JSON of every path along with the picture. A digit needs one tool.
//
// Python side: app/draw_canvas.py. Value sent under the "drawing" state, checked by core/canvas.py:
//   {strokes: <number of strokes on the canvas>, png: "data:image/png;base64,…" | null}
// `data` from Python: {size, strokeWidth, labels: {canvas, undo, redo}}.

const VIEWS = new WeakMap(); // parentElement -> its canvas (this function runs again on new data)

function makeButton(symbol) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = symbol;
  b.disabled = true;
  return b;
}

function createView(parentElement) {
  const root = document.createElement("div");
  root.className = "cnn-draw";
  root.tabIndex = 0; // Ctrl+Z / Ctrl+Y when the canvas has the focus
  const canvas = document.createElement("canvas");
  canvas.className = "cnn-draw-canvas";
  const bar = document.createElement("div");
  bar.className = "cnn-draw-bar";
  const undo = makeButton("↶");
  const redo = makeButton("↷");
  bar.append(undo, redo);
  root.append(canvas, bar);
  parentElement.append(root);

  const view = { root, canvas, undo, redo, strokes: [], undone: [], current: null,
                 width: 20, setStateValue: null };
  const ctx = canvas.getContext("2d");

  const point = (e) => {
    const r = canvas.getBoundingClientRect(); // the canvas may be shown smaller than it is
    return [(e.clientX - r.left) * (canvas.width / r.width),
            (e.clientY - r.top) * (canvas.height / r.height)];
  };
  const dot = ([x, y], width) => {
    ctx.beginPath();
    ctx.arc(x, y, width / 2, 0, 2 * Math.PI);
    ctx.fill();
  };
  const segment = ([x0, y0], [x1, y1], width) => {
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  };
  const paint = () => {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = ctx.strokeStyle = "#000000";
    ctx.lineCap = ctx.lineJoin = "round";
    for (const s of view.strokes) {
      if (s.points.length === 1) { dot(s.points[0], s.width); continue; }
      ctx.lineWidth = s.width;
      ctx.beginPath();
      ctx.moveTo(...s.points[0]);
      for (const p of s.points.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
    }
  };
  const send = () => {
    undo.disabled = view.strokes.length === 0;
    redo.disabled = view.undone.length === 0;
    if (!view.setStateValue) return;
    view.setStateValue("drawing", {
      strokes: view.strokes.length,
      png: view.strokes.length ? canvas.toDataURL("image/png") : null,
    });
  };
  const end = () => {
    if (!view.current) return;
    view.strokes.push(view.current);
    view.current = null;
    view.undone = [];
    send(); // at once: no debounce (the reason this component exists)
  };

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    const p = point(e);
    view.current = { width: view.width, points: [p] };
    dot(p, view.width);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!view.current) return;
    const p = point(e);
    const pts = view.current.points;
    segment(pts[pts.length - 1], p, view.current.width);
    pts.push(p);
  });
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);

  const step = (from, to) => {
    if (!from.length) return;
    to.push(from.pop());
    paint();
    send();
  };
  undo.addEventListener("click", () => step(view.strokes, view.undone));
  redo.addEventListener("click", () => step(view.undone, view.strokes));
  root.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey)) return;
    const k = e.key.toLowerCase();
    if (k === "z" && !e.shiftKey) step(view.strokes, view.undone);
    else if (k === "y" || (k === "z" && e.shiftKey)) step(view.undone, view.strokes);
    else return;
    e.preventDefault();
  });

  view.resize = (size) => {
    if (canvas.width === size && canvas.height === size) return;
    canvas.width = canvas.height = size;
    canvas.style.width = canvas.style.height = `${size}px`;
    paint();
  };
  paint();
  return view;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let view = VIEWS.get(parentElement);
  if (!view || !parentElement.contains(view.root)) {
    view = createView(parentElement);
    VIEWS.set(parentElement, view);
  }
  view.setStateValue = setStateValue;
  view.width = Number(data?.strokeWidth) || 20; // the next stroke's; drawn strokes keep theirs
  view.resize(Number(data?.size) || 280);
  const labels = data?.labels || {};
  view.canvas.setAttribute("aria-label", labels.canvas || "Drawing canvas");
  view.canvas.setAttribute("role", "img");
  view.undo.title = view.undo.ariaLabel = labels.undo || "Undo";
  view.redo.title = view.redo.ariaLabel = labels.redo || "Redo";
  return () => {
    view.root.remove();
    VIEWS.delete(parentElement);
  };
}
