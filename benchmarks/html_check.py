"""Check the HTML leaderboard in a real headless browser at desktop and phone widths.

    python benchmarks/html_check.py [OUT_DIR]      (needs Debian's `chromium`; no network used)

Renders a wide leaderboard (16 metric columns, a long row label, sha256 strings in the
protocol, a sample grid and a loss curve), opens it at 1280 px and 390 px and measures
the page's scrollWidth against the viewport width (the page must not scroll sideways;
only the table's own box may) and takes a screenshot at each width. Exit 1 on overflow.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from benchmark import report
from benchmark.results.records import MetricValue, RunRecord
from benchmark.rundir.layout import RunDir

WIDTHS = (1280, 390)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--hide-scrollbars"]
SHA = "5f3e1a" * 10 + "abcd"
# The page is shown in an iframe of the exact width (headless chromium will not make a window
# narrower than 500 px); a script added to the page reports its sizes in the host's title.
MEASURE = """<script>
addEventListener('load', () => {
  const boxes = [...document.querySelectorAll('.scroll')];
  parent.document.title = 'MEASURE ' + JSON.stringify({
    viewport: window.innerWidth,
    page: document.documentElement.scrollWidth,
    boxes: boxes.map(b => ({client: b.clientWidth, scroll: b.scrollWidth})),
  });
});
</script>"""
HOST = ('<!DOCTYPE html><html><head><title>waiting</title></head><body style="margin:0">'
        '<iframe style="border:0;display:block;width:{width}px;height:{height}px" srcdoc="{page}"></iframe>'
        "</body></html>")
HEIGHT = 1400


def records(root: Path) -> list[RunRecord]:
    rows = []
    for i, label in enumerate(["pix2pix+kl-with-a-rather-long-row-label", "spade", "label-cgan"], start=1):
        images = RunDir(root / label).images
        for folder, colour in ((images.fake, (40 * i, 90, 160)), (images.real, (200, 200, 200)),
                               (images.label, (10, 120, 10))):
            folder.mkdir(parents=True, exist_ok=True)
            for stem in range(6):
                Image.new("RGB", (64, 64), colour).save(folder / f"{stem:03d}.png")
        Image.new("RGB", (640, 480), (250, 250, 250)).save(RunDir(root / label).loss_curve)
        metrics = {f"M{k}": MetricValue(100.0 * i + k + 0.123, "up" if k % 2 else "down",
                                        {"weights_sha256": SHA, "k": k}) for k in range(16)}
        rows.append(RunRecord(
            label=label, model=label, preset="default", dataset="facades", profile="smoke", seed=0, options={},
            config={}, protocol={"images": 106, "resolution": 64, "dataset_options": {"sha256": SHA}},
            versions={}, device="cpu", wall_time_s=1.0, status="ok", reason=None, run_dir=str(root / label),
            note="no VGG loss" if i == 1 else "", metrics=metrics, created=f"2024-01-01T00:00:0{i}+00:00", id=i))
    return rows


def host(page: Path, width: int, *, probe: bool) -> Path:
    text = page.read_text()
    if probe:
        text = text.replace("</body>", MEASURE + "\n</body>")
    path = page.with_name(f"{'probe' if probe else 'view'}-{width}.html")
    path.write_text(HOST.format(width=width, height=HEIGHT, page=html.escape(text, quote=True)))
    return path


def measure(browser: str, page: Path, width: int, out: Path) -> dict:
    shot = out / f"leaderboard-{width}.png"
    with tempfile.TemporaryDirectory() as profile:
        common = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={max(width, 500)},{HEIGHT}",
                  "--virtual-time-budget=5000"]
        dom = subprocess.run([*common, "--dump-dom", host(page, width, probe=True).as_uri()],
                             capture_output=True, text=True, timeout=120, check=False).stdout
        subprocess.run([*common, f"--screenshot={shot}", host(page, width, probe=False).as_uri()],
                       capture_output=True, timeout=120, check=False)
    if shot.is_file() and width < 500:
        with Image.open(shot) as im:
            im.crop((0, 0, width, im.height)).save(shot)
    found = re.search(r"<title>MEASURE (.*?)</title>", dom)
    if not found:
        raise SystemExit(f"error: chromium did not report the measurements for {width} px")
    return json.loads(html.unescape(found.group(1)))


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("error: chromium is not installed; apt-get install -y chromium", file=sys.stderr)
        return 2
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="html-check-"))
    out.mkdir(parents=True, exist_ok=True)
    page = out / "leaderboard.html"
    page.write_text(report.render(records(out / "runs"), "html", title="Leaderboard"))
    failures = 0
    for width in WIDTHS:
        m = measure(browser, page, width, out)
        ok = m["page"] <= m["viewport"] and all(b["client"] <= m["viewport"] for b in m["boxes"])
        inside = ", ".join(f"{b['scroll']} px in a {b['client']} px box" for b in m["boxes"])
        print(f"{width:>5} px: viewport {m['viewport']} px, page scrollWidth {m['page']} px, "
              f"table {inside}: {'OK' if ok else 'OVERFLOW'}")
        failures += not ok
    print(f"screenshots: {', '.join(str(out / f'leaderboard-{w}.png') for w in WIDTHS)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
