"""Where a drawn digit's time goes in the browser: mouse-up → the canvas sends the stroke (the
WebSocket's send) → the message carrying "Prediction: …" arrives → the heading is in the DOM →
the frame that painted it. All on the page's own clock (a WebSocket hook plus
bench/paint_timing.py). A fresh server on core 0, one Chromium and this script on core 1;
`--busy` adds a busy loop on core 1 (another page or program sharing the visitor's CPU).

    CNN_LAB_DATA_DIR=../shared/data python bench/draw_trace.py [cycles] [--busy]

Prints one JSON line per draw (ms since mouse-up) and medians/maxima over all but the first
draw (the first also compiles the chart library).
"""
import asyncio, json, os, re, subprocess, sys, tempfile, statistics
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser_steps import stroke_until_release
from bench.class_load import PAINT
from bench.server import CHROMIUM, CHROMIUM_ARGS, bundled_checkpoints, serve, shared_data_dir

HOOK = r"""
(() => {
  const T = window.__wsTrace = {sends: [], recv: []};
  const OrigWS = window.WebSocket;
  window.WebSocket = function(...a) {
    const ws = new OrigWS(...a);
    const send = ws.send.bind(ws);
    ws.send = (d) => { T.sends.push([performance.now(), d.byteLength ?? d.length]); return send(d); };
    ws.addEventListener('message', (ev) => {
      const now = performance.now();
      const d = ev.data;
      const handle = (buf) => {
        const s = new TextDecoder('latin1').decode(new Uint8Array(buf));
        T.recv.push([now, buf.byteLength, s.includes('Prediction: '), s.includes('plotly') || s.includes('"data"')]);
      };
      if (d instanceof Blob) d.arrayBuffer().then(handle); else if (d instanceof ArrayBuffer) handle(d);
    });
    return ws;
  };
  window.WebSocket.prototype = OrigWS.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""

async def scene(url, cycles):
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = await browser.new_context(viewport={"width": 1400, "height": 1600})
        await ctx.add_init_script(script=HOOK)
        await PAINT.install(ctx)
        page = await ctx.new_page()
        await page.goto(f"{url}/predict", timeout=120000)
        canvas = page.locator("canvas.cnn-draw-canvas").first
        await canvas.wait_for(timeout=120000)
        await page.get_by_text("Nothing drawn yet").wait_for(timeout=120000)
        rows = []
        for c in range(cycles):
            await PAINT.rearm(page, "prediction")
            await page.evaluate("() => { window.__wsTrace.sends.length = 0; window.__wsTrace.recv.length = 0; }")
            await stroke_until_release(page, canvas)
            await page.mouse.up()
            await page.get_by_role("heading", name=re.compile(r"^Prediction: ")).wait_for(timeout=60000)
            await asyncio.sleep(1.5)
            st = await page.evaluate("() => ({tr: window.__wsTrace, pt: window.__paintTiming})")
            up = st["pt"]["pointerup"]
            sends = [s for s in st["tr"]["sends"] if s[0] >= up]
            recv = st["tr"]["recv"]
            first_send = sends[0][0] - up if sends else None
            pred = [r for r in recv if r[2]]
            pred_recv = pred[0][0] - up if pred else None
            first_recv = recv[0][0] - up if recv else None
            row = dict(send=first_send, first_recv=first_recv, pred_recv=pred_recv,
                       found=st["pt"]["found"]["prediction"] - up, painted=st["pt"]["painted"]["prediction"] - up,
                       n_recv=len(recv), recv=[(round(r[0]-up), r[1], int(r[2])) for r in recv if r[1] > 1000 or r[2]])
            rows.append(row)
            print(json.dumps({k: (round(v) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
            await page.locator(".st-key-predict-clear button").click()
            await page.get_by_text("Nothing drawn yet").wait_for(timeout=60000)
            await asyncio.sleep(1.0)
        await browser.close()
    for k in ("send", "pred_recv", "found", "painted"):
        v = [r[k] for r in rows[1:] if r[k] is not None]
        print(k, "median", round(statistics.median(v)), "max", round(max(v)))

def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    busy = "--busy" in sys.argv
    data_dir = shared_data_dir()
    if data_dir is None:
        sys.exit("MNIST not found: set CNN_LAB_DATA_DIR (see ../shared/data/README.md)")
    with tempfile.TemporaryDirectory() as tmp:
        env = {"CNN_LAB_DATA_DIR": str(data_dir),
               "CNN_LAB_CHECKPOINT_DIR": str(bundled_checkpoints(Path(tmp) / "checkpoints"))}
        with serve("streamlit_app.py", Path(tmp) / "server.log", env=env, cpus="0") as (url, _p):
            os.sched_setaffinity(0, {1})
            hog = subprocess.Popen(["sh", "-c", "while :; do :; done"]) if busy else None  # inherits core 1
            try:
                asyncio.run(scene(url, cycles))
            finally:
                if hog: hog.kill()

if __name__ == "__main__":
    main()
