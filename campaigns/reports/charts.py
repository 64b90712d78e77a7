"""Server-rendered inline SVG bar chart for the campaign report: no JavaScript, no library."""

from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

WIDTH, HEIGHT = 720, 200
LEFT, BOTTOM, TOP = 48, 28, 12


def bar_chart(buckets, unit):
    """An accessible SVG of [(bucket start, count)]: one bar per bucket, labelled axes."""
    peak = max(count for _, count in buckets) or 1
    plot_width, plot_height = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_width / len(buckets)
    bar_width = min(max(slot * 0.8, 1), 28)  # a few buckets stay bars, not blocks
    time_format = "H:i" if unit == "minute" else "M j, H:i"
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" rx="1"><title>{}: {} sent</title></rect>',
        (
            (
                f"{LEFT + index * slot + (slot - bar_width) / 2:.1f}",
                f"{TOP + plot_height - plot_height * count / peak:.1f}",
                f"{bar_width:.1f}",
                f"{plot_height * count / peak:.1f}",
                date_format(localtime(at), time_format),
                count,
            )
            for index, (at, count) in enumerate(buckets)
        ),
    )
    first, last = buckets[0][0], buckets[-1][0]
    return format_html(
        '<svg class="campaign-chart" viewBox="0 0 {w} {h}" role="img" aria-label="Sent per {unit}, peak {peak}">'
        '<g class="campaign-chart__axes">'
        '<line x1="{left}" y1="{top}" x2="{left}" y2="{base}"></line>'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}"></line>'
        '<text x="{label_x}" y="{peak_y}" text-anchor="end">{peak}</text>'
        '<text x="{label_x}" y="{base}" text-anchor="end">0</text>'
        '<text x="{first_x}" y="{time_y}" text-anchor="middle">{first}</text>'
        '<text x="{last_x}" y="{time_y}" text-anchor="middle">{last}</text>'
        "</g>"
        '<g class="campaign-chart__bars">{bars}</g>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        unit=unit,
        peak=number_format(peak, force_grouping=True),
        left=LEFT,
        right=WIDTH - 8,
        top=TOP,
        base=TOP + plot_height,
        label_x=LEFT - 6,
        peak_y=TOP + 10,
        time_y=HEIGHT - 8,
        first_x=f"{LEFT + slot / 2:.1f}",
        last_x=f"{LEFT + (len(buckets) - 0.5) * slot:.1f}",
        first=date_format(localtime(first), time_format),
        last=date_format(localtime(last), time_format) if last != first else "",
        bars=bars,
    )
