"""The domain-vs-general scatter of one track and training curves, as inline SVG strings.

Byte-identical across builds: a fixed hash salt for element ids, no date or creator metadata, a
font that ships with matplotlib, glyphs drawn as paths. No untrusted text goes into the figure:
points are labelled with their "#" number from the leaderboard table, never with a submission
name, so the SVG needs no escaping beyond what matplotlib does for its own strings. Names reach the
reader outside the SVG: `scatter` also returns where each point sits on the figure, and the track page
lays an HTML hover target with the (template-escaped) name over each point, and lists "# name" below.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure

from harness.scoring import Row, TrackTable

RC = {
    "svg.hashsalt": "ft-harness",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

COLOR, BASE_COLOR, FRONTIER_COLOR = "#3465a4", "#000000", "#cc0000"


def _svg(fig: Figure) -> str:
    """The figure as an <svg> element alone (no XML prolog, no date or creator metadata), ready to inline."""
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _xy(row: Row) -> tuple[float, float]:
    # A track without general (or domain) tasks still plots, on a flat line at 0.
    return (row.domain.value if row.domain else 0.0, row.general.value if row.general else 0.0)


def _errors(estimates, values) -> list[list[float]]:
    return [[v - e.low if e else 0.0 for e, v in zip(estimates, values)],
            [e.high - v if e else 0.0 for e, v in zip(estimates, values)]]


def scatter_svg(track: TrackTable) -> str:
    """Valid entries with 95% intervals on both axes, the base model as a star, the frontier as a step line.

    Returns the <svg> element alone (no XML prolog), ready to inline in HTML.
    """
    return scatter(track)[0]


def scatter(track: TrackTable) -> tuple[str, list[tuple[int, Row, float, float]]]:
    """(the scatter's <svg>, [(#, row, left %, top %)]): each valid entry's point as a percentage of the figure's
    width from the left and height from the top, so HTML can place a hover target over it at any display size."""
    numbered = [(number, row) for number, row in enumerate(track.rows, start=1) if row.valid]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(6.4, 4.4))
        ax = fig.add_subplot()
        ax.set_xlabel("domain score (0-100)")
        ax.set_ylabel("general score (0-100)")
        ax.grid(True, color="#dddddd", linewidth=0.6)
        if numbered:
            rows = [row for _, row in numbered]
            xs, ys = zip(*(_xy(row) for row in rows))
            ax.errorbar(xs, ys, xerr=_errors([r.domain for r in rows], xs), yerr=_errors([r.general for r in rows], ys),
                        fmt="none", ecolor="#9db4d6", elinewidth=0.8, capsize=2, zorder=1)
            others = [(x, y) for (x, y), row in zip(zip(xs, ys), rows) if not row.is_base]
            if others:
                ax.scatter(*zip(*others), s=22, color=COLOR, zorder=3, label="entry (label = # in the table)")
            base = [(x, y) for (x, y), row in zip(zip(xs, ys), rows) if row.is_base]
            if base:
                ax.scatter(*zip(*base), s=90, marker="*", color=BASE_COLOR, zorder=4, label="base model")
            frontier = sorted(((x, y) for (x, y), row in zip(zip(xs, ys), rows) if row.frontier), reverse=True)
            if frontier:
                # Walk from the highest domain score down: general can only rise along the frontier.
                fx, fy = zip(*frontier)
                ax.step(fx, fy, where="post", color=FRONTIER_COLOR, linewidth=1, linestyle="--", zorder=2,
                        label="Pareto frontier")
            for (number, _), x, y in zip(numbered, xs, ys):
                ax.annotate(str(number), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8, zorder=5)
            ax.legend(loc="best", fontsize=8, frameon=False)
        else:
            ax.text(0.5, 0.5, "no valid entries", transform=ax.transAxes, ha="center", va="center")
        svg = _svg(fig)  # lays the figure out; the transforms below then hold for the saved SVG
        to_figure = fig.transFigure.inverted()
        places = []
        for number, row in numbered:
            fx, fy = to_figure.transform(ax.transData.transform(_xy(row)))
            places.append((number, row, round(100 * float(fx), 2), round(100 * (1 - float(fy)), 2)))
        return svg, places


LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "v", "D")
Curve = list[dict]
"""metrics.json "curve": [{"step", "score", "mean_length"}, ...]."""


def mean_curve(curves: list[Curve]) -> Curve:
    """The mean over seeds at the steps every seed's curve has (seeds may stop at different steps)."""
    if not curves:
        return []
    steps = sorted(set.intersection(*({p["step"] for p in c} for c in curves)))
    by_step = [{p["step"]: p for p in c} for c in curves]
    return [{"step": s, **{k: sum(c[s][k] for c in by_step) / len(by_step) for k in ("score", "mean_length")}}
            for s in steps]


def chain_curves_svg(curve: Curve) -> str | None:
    """Per-step accuracy during training (curve points' "chain"), one line per chain position, the answer last:
    left the local accuracy (a step right given the model's own previous step), right the gold accuracy. Lines
    that rise together show a chain learned all at once; lines that rise one after another, step by step."""
    points = [p for p in curve if p.get("chain")]
    if not points:
        return None
    width = len(points[0]["chain"]["local"])
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8.6, 3.4))
        axes = fig.subplots(1, 2)
        for ax, kind, label in zip(axes, ("local", "gold"), ("step accuracy given own previous step (%)",
                                                              "step accuracy against the gold chain (%)")):
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(label)
            ax.set_ylim(-2, 102)
            ax.grid(True, color="#dddddd", linewidth=0.6)
            for i in range(width):
                name = "answer" if i == width - 1 else f"step {i + 1}"
                ax.plot([p["step"] for p in points], [p["chain"][kind][i] for p in points],
                        linestyle=LINESTYLES[i % len(LINESTYLES)], marker=MARKERS[i % len(MARKERS)], markersize=3,
                        linewidth=1.2, label=name)
        axes[0].legend(loc="best", fontsize=7, frameon=False)
        return _svg(fig)


def curves_svg(series: list[tuple[str, Curve]]) -> str:
    """Domain score and mean response length against optimizer steps, one line per (label, curve).

    Labels are shown in the legend: pass table numbers ("#3"), never submission names.
    """
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8.6, 3.4))
        score_ax, length_ax = fig.subplots(1, 2)
        for ax, key, label in ((score_ax, "score", "domain score (0-100)"), (length_ax, "mean_length", "mean response length (tokens)")):
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(label)
            ax.grid(True, color="#dddddd", linewidth=0.6)
            for i, (name, curve) in enumerate(series):
                if curve:  # line styles and markers cycle so that overlapping curves stay distinguishable
                    ax.plot([p["step"] for p in curve], [p[key] for p in curve], linestyle=LINESTYLES[i % len(LINESTYLES)],
                            marker=MARKERS[i % len(MARKERS)], markersize=3, linewidth=1.2, label=name)
        if len(series) > 1:
            score_ax.legend(loc="best", fontsize=7, frameon=False)
        return _svg(fig)
