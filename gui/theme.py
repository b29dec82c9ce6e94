"""The look shared by both windows: sv-ttk's light theme, fonts every system has, and colours.

sv-ttk asks for Segoe UI Variable, which only Windows 11 has; elsewhere Tk would
fall back to a font of its choosing, so its named fonts are pointed at a family
that is really installed.
"""
from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

import sv_ttk

# Preferred families in order; DejaVu Sans ships with nearly every Linux desktop.
FAMILIES = ("Segoe UI Variable Text", "Segoe UI", "SF Pro Text", "Helvetica Neue", "DejaVu Sans", "Noto Sans", "Liberation Sans")

# Foreground colours for a state, readable on the light theme.
TONES = {
    "good": "#0f7b0f",
    "busy": "#005fb8",
    "warn": "#9d5d00",
    "bad": "#c42b1c",
    "muted": "#5f5f5f",
    "normal": "#1a1a1a",
    "stale": "#a3a3a3",    # figures of a previous filter, shown until the new ones arrive
}
# Pale row backgrounds that go with the tones, for table rows.
TINTS = {"good": "#e3f4e1", "busy": "#e6f0fa", "warn": "#fdf2d6", "bad": "#fbe3e4", "muted": "#f0f0f0"}

BAR = "#f3f3f3"  # background of header and status bars

SUN_VALLEY_FONTS = {
    "SunValleyCaptionFont": -12, "SunValleyBodyFont": -14, "SunValleyBodyStrongFont": -14,
    "SunValleyBodyLargeFont": -18, "SunValleySubtitleFont": -20, "SunValleyTitleFont": -28,
}


def pick_family(root: tk.Misc) -> str:
    """The first preferred font family installed here, or Tk's default family."""
    installed = set(tkfont.families(root))
    for family in FAMILIES:
        if family in installed:
            return family
    return tkfont.nametofont("TkDefaultFont", root=root).actual("family")


def apply_theme(root: tk.Tk) -> None:
    """Load sv-ttk (light), set fonts that exist, and define the styles the windows use."""
    sv_ttk.set_theme("light", root)
    family = pick_family(root)
    for name, size in SUN_VALLEY_FONTS.items():
        strong = "Strong" in name or "Subtitle" in name or "Title" in name
        tkfont.nametofont(name, root=root).configure(family=family, size=size, weight="bold" if strong else "normal")
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont", "TkCaptionFont", "TkTooltipFont"):
        tkfont.nametofont(name, root=root).configure(family=family, size=-14)
    tkfont.nametofont("TkHeadingFont", root=root).configure(weight="bold")
    body = tkfont.nametofont("SunValleyBodyFont", root=root)
    style = ttk.Style(root)
    style.configure("Treeview", rowheight=body.metrics("linespace") + 10)
    style.configure("Treeview.Heading", padding=(6, 3))
    # Styles carry fonts only.  Colours are set on each label (see ``paint``): sv-ttk
    # re-runs tk_setPalette whenever a style changes, and that gives every label
    # still using its default colour an explicit one, which would beat a style's.
    style.configure("Title.TLabel", font="SunValleySubtitleFont")
    style.configure("Section.TLabel", font="SunValleyBodyStrongFont")
    style.configure("Amount.TLabel", font="SunValleyBodyStrongFont")
    style.configure("Caption.TLabel", font="SunValleyCaptionFont")
    style.configure("Icon.TButton", padding=(6, 2, 6, 3))
    # A small flat button that reads like a link ("Details"), reachable with Tab like any button.
    style.configure("Link.Toolbutton", font="SunValleyCaptionFont", foreground=TONES["busy"], padding=(4, 0))
    style.configure("Banner.TFrame", background=TINTS["bad"])
    style.configure("Bar.TFrame", background=BAR)
    root.option_add("*tearOff", False)


def paint(label: tk.Widget, tone: str = "normal", background: str | None = None) -> None:
    """Colour a label's text by tone (good, busy, warn, bad, muted, normal), optionally its background."""
    label.configure(foreground=TONES[tone])
    if background is not None:
        label.configure(background=background)
