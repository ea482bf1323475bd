"""The sync page's run chart: server-side SVG, scaled to the runs it shows."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from syncline.server.pages.charts import runs_chart


def test_no_runs_no_chart() -> None:
    assert runs_chart([]) == ""


def test_bars_are_scaled_to_the_largest_run_and_escape_labels() -> None:
    runs = [
        {"id": 1, "accepted": 100, "rejected": 0, "invalid": 0, "duration_s": 2.0},
        {"id": 2, "accepted": 40, "rejected": 10, "invalid": 0, "duration_s": 1.0},
        {"id": "<3>", "accepted": 0, "rejected": 0, "invalid": 0, "duration_s": None},
    ]
    svg = runs_chart(runs)
    root = ET.fromstring(svg)  # well-formed XML, so the label was escaped
    ns = "{http://www.w3.org/2000/svg}"
    heights = [float(r.get("height", "0")) for r in root.iter(f"{ns}rect")
               if r.get("class") == "sent"]
    assert heights[0] > 0 and heights[2] == 0
    assert abs(heights[1] / heights[0] - 0.4) < 0.01
    rejected = [float(r.get("height", "0")) for r in root.iter(f"{ns}rect")
                if r.get("class") == "rejected"]
    assert abs(rejected[1] / heights[0] - 0.1) < 0.01
    assert "&lt;3&gt;" in svg
    points = root.find(f"{ns}polyline")
    assert points is not None and len(re.findall(",", points.get("points", ""))) == 3


def test_invalid_keys_are_their_own_part_of_the_bar_not_rejections() -> None:
    svg = runs_chart([{"id": 1, "accepted": 50, "rejected": 20, "invalid": 30, "duration_s": 1}])
    ns = "{http://www.w3.org/2000/svg}"
    heights = {r.get("class"): float(r.get("height", "0"))
               for r in ET.fromstring(svg).iter(f"{ns}rect")}
    assert abs(heights["rejected"] / heights["sent"] - 0.4) < 0.01
    assert abs(heights["invalid"] / heights["sent"] - 0.6) < 0.01
    assert "20 rejected, 30 invalid" in svg
