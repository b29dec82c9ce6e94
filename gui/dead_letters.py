"""Messages the Head Office could not apply: what each held, what to do about it, and Retry / Discard.

Each letter is read back from its stored body in a worker thread
(``sync.letter_contents``): the branch by name, how many sales, their total and
their numbers, and one sentence on what to do chosen by the kind of trouble.
The engine's own reason and the message's identity stay behind Details; every
attempt is listed, so a letter that failed again after Retry is seen as such.
"""
from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.background import Newest, OneAtATime
from gui.formats import clock, money, plural, visible
from gui.notice import Notice, Words
from gui.theme import TONES
from gui.widgets import Column, DataTable, Row
from sync.dead_letters import Attempt, DeadLetter
from sync.letter_contents import LetterContents, LetterDetails, Trouble

COLUMNS = [
    Column("id", "#", 50, "e", sample="9999"), Column("received", "Received", 130, sample="2026-11-30 14:03"),
    Column("branch", "Branch", 120, stretch=True, sample="West Branch"),
    Column("held", "What it held", 170, stretch=True, sample="10,000 sales · 1,234,567.89"),
    Column("trouble", "Why parked", 130, sample="unknown branch"), Column("attempts", "Tries", 48, "e", sample="99"),
]
READING = "Reading what it held…"
NameOf = Callable[[str], str]
ReadLetter = Callable[[int], "LetterDetails | None"]   # runs in a worker thread

SHORT = {Trouble.PARKED_BY_BROKER: "set aside by broker", Trouble.TOO_LARGE: "too large", Trouble.MALFORMED: "unreadable",
         Trouble.NOT_SUPPORTED: "newer version", Trouble.UNKNOWN_BRANCH: "unknown branch",
         Trouble.ANOTHER_BRANCH: "another's name", Trouble.REFUSED_SALES: "refused sales",
         Trouble.OTHER_HISTORY: "another history", Trouble.PASSES_NOW: "passes now"}


def sender_words(code: str | None, name: NameOf) -> str:
    """'West Branch (bo2)', or the code alone when no name is known, or 'an unknown sender'."""
    if not code:
        return "an unknown sender"
    named = name(code)
    return f"{visible(named)} ({visible(code)})" if named and named != code else visible(code)


def size_words(size: int) -> str:
    return plural(size, "byte")


def numbers_words(contents: LetterContents) -> str:
    """'sale 12', 'sales 12, 13, 15 and 40 more'."""
    numbers = ", ".join(str(n) for n in contents.sale_numbers)
    more = f" and {contents.more_sale_numbers:,} more" if contents.more_sale_numbers else ""
    return f"{'sale' if contents.sales == 1 else 'sales'} {numbers}{more}"


def held_words(contents: LetterContents, name: NameOf) -> str:
    """One sentence on what a message held, as far as it could be read."""
    who = sender_words(contents.branch, name)
    if not contents.readable:
        return f"A message from {who}; what it held could not be read ({size_words(contents.size)})."
    if contents.kind != "changes":
        return f"A {visible(contents.kind or 'untyped')} message from {who}, holding no sales ({size_words(contents.size)})."
    if not contents.sales:
        return f"A message from {who} holding no sale that could be read ({size_words(contents.size)})."
    extras = []
    if contents.deletes:
        extras.append(f"{plural(contents.deletes, 'delete')} among them")
    if contents.unread_totals:
        extras.append(f"the Total of {plural(contents.unread_totals, 'sale')} could not be read")
    extra = f" ({'; '.join(extras)})" if extras else ""
    return (f"{who} sent {plural(contents.sales, 'sale')} totalling {money(contents.total)}{extra}: "
            f"{numbers_words(contents)}.")


def held_short(contents: LetterContents) -> str:
    """What a message held, for the table."""
    if not contents.readable:
        return f"unreadable, {size_words(contents.size)}"
    if contents.kind != "changes":
        return f"{visible(contents.kind or 'a message')}, no sales"
    return f"{plural(contents.sales, 'sale')} · {money(contents.total)}"


def advice(contents: LetterContents, letter: DeadLetter, name: NameOf) -> str:
    """The one thing to do, by the kind of trouble."""
    who = sender_words(contents.branch or letter.branch, name)
    match contents.trouble:
        case Trouble.UNKNOWN_BRANCH:
            code = f" {visible(contents.branch)}" if contents.branch else ""
            return (f"Add the branch{code} to the Head Office config (a file like bo1.toml beside ho.toml, or its "
                    "branches key), restart the Head Office, then Retry.")
        case Trouble.MALFORMED if not (contents.branch or letter.branch):
            return ("Nothing in it says which branch sent it: find out which program publishes to the Head Office's "
                    "queue with the broker login under Details, then Discard it.")
        case Trouble.MALFORMED:
            return (f"Ask the support of {who} to check its Branch Sync: this copy can never be applied; Discard it "
                    "once the branch has sent its sales again.")
        case Trouble.TOO_LARGE:
            return (f"It is larger than any message Branch Sync sends: ask the support of {who} what sent it, "
                    "then Discard it.")
        case Trouble.NOT_SUPPORTED:
            return f"{who} runs a newer Branch Sync than the Head Office: upgrade the Head Office, then Retry."
        case Trouble.PARKED_BY_BROKER if contents.broker_reason == "delivery_limit":
            return ("The Head Office failed to take it many times in a row (usually while its database was down): "
                    "Retry now that it runs.")
        case Trouble.PARKED_BY_BROKER if contents.broker_reason == "maxlen":
            return f"The queue of {who} at the broker was full when it arrived: Retry."
        case Trouble.PARKED_BY_BROKER:
            return "The broker set it aside before the Head Office could take it: Retry."
        case Trouble.ANOTHER_BRANCH:
            return (f"It came from {sender_words(letter.branch or letter.publisher, name)} but speaks for {who}: a branch "
                    "may only send its own sales. Find out why (a copied configuration?), then Discard it.")
        case Trouble.REFUSED_SALES:
            return ("These sales hold values no sale may have; the branch was told and shows why beside each one: "
                    "correct them there (edit and save again), then Discard this letter.")
        case Trouble.OTHER_HISTORY:
            return (f"The database of {who} is not the one the Head Office knows (restored or replaced): see the "
                    "branch's alert, then rejoin at the branch and adopt here (docs/OPERATIONS.md).")
        case Trouble.PASSES_NOW:
            return ("It passes the Head Office's checks now (its cause may be fixed): Retry; if it is parked again, "
                    "the reason is under Details.")
    return "See Details."


def history_words(attempts: list[Attempt]) -> str:
    """'Tried 3 times: parked 14:03:22 · parked again 14:05:10 · parked again 14:06:00.'"""
    if not attempts:
        return ""
    steps = " · ".join(f"{a.outcome} {clock(a.at)}" for a in attempts)
    tries = sum(1 for a in attempts if a.outcome.startswith("parked"))
    return f"{'Parked once' if tries == 1 else f'Parked {tries:,} times'}: {steps}."


def technical(details: LetterDetails, letter: DeadLetter) -> str:
    """The engine's words and the message's identity, for whoever has to fix it."""
    lines = [details.reason or letter.reason, f"Message {letter.message_id or '(no id)'}, published by broker login "
             f"{letter.publisher or '(none)'}, naming branch {letter.claimed_branch or '(none)'}."]
    lines += [f"{clock(a.at)} {a.outcome}: {a.reason}" for a in details.attempts[1:] if a.reason]
    return "\n".join(lines)


class DeadLetterView(ttk.Frame):
    """Parked dead letters, newest first: what each held and what to do; Retry and Discard for the selected one.

    ``on_retry(id)`` and ``on_discard(id)`` do the work; ``read_letter(id)`` reads a letter's contents and history
    (the view calls it in a worker thread); ``branch_name(code)`` names a branch.
    """

    def __init__(self, master: tk.Misc, on_retry: Callable[[int], None], on_discard: Callable[[int], None],
                 read_letter: ReadLetter | None = None, branch_name: NameOf = str):
        super().__init__(master, padding=(0, 12, 0, 0))
        self.on_retry, self.on_discard = on_retry, on_discard
        self.read_letter, self.branch_name = read_letter, branch_name
        self.letters: dict[str, DeadLetter] = {}
        self.contents: dict[int, LetterContents] = {}     # bodies never change: read once per letter
        self.details: LetterDetails | None = None         # of the selected letter
        self._unreadable: set[int] = set()                # reads that failed this round (tried again on the next list)
        self._fill_job, self._detail_job = OneAtATime(self), Newest(self, parallel=1)
        self._filling = False
        intro = ttk.Label(self, text="A dead letter is a message from a branch that could not be applied. Retry puts it "
                                     "back on the intake queue (after a fix at the Head Office); Discard keeps it on record "
                                     "but stops it from counting as waiting.",
                          style="Caption.TLabel", foreground=TONES["muted"], wraplength=500, justify="left")
        intro.grid(row=0, column=0, sticky="ew", pady=(0, 8))
        intro.bind("<Configure>", lambda e: intro.configure(wraplength=max(200, e.width - 4)))
        self.table = DataTable(self, COLUMNS, height=8)
        self.table.grid(row=1, column=0, sticky="nsew")
        self.table.tree.bind("<<TreeviewSelect>>", lambda e: self._selected())

        pane = ttk.Frame(self, padding=(10, 8))
        pane.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.held = ttk.Label(pane, style="Section.TLabel", wraplength=500, justify="left")
        self.held.grid(row=0, column=0, sticky="w")
        self.todo = Notice(pane, fit=True, side="left")
        self.todo.grid(row=1, column=0, sticky="ew", pady=(4, 0))
        self.history = ttk.Label(pane, style="Caption.TLabel", foreground=TONES["muted"], wraplength=500, justify="left")
        self.history.grid(row=2, column=0, sticky="w", pady=(4, 0))
        pane.columnconfigure(0, weight=1)
        pane.bind("<Configure>", lambda e: [w.configure(wraplength=max(200, e.width - 24)) for w in (self.held, self.history)])

        buttons = ttk.Frame(self)
        buttons.grid(row=3, column=0, sticky="ew", pady=(8, 0))
        self.count_label = ttk.Label(buttons, style="Caption.TLabel", foreground=TONES["muted"])
        self.count_label.pack(side="left")
        self.discard_button = ttk.Button(buttons, text="Discard…", command=self._discard, state="disabled")
        self.discard_button.pack(side="right")
        self.retry_button = ttk.Button(buttons, text="Retry", command=self._retry, state="disabled")
        self.retry_button.pack(side="right", padx=(0, 8))
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)

    # ------------------------------------------------------------ the list
    def show(self, letters: list[DeadLetter]) -> None:
        """Show the parked dead letters, newest first; what they held is read in the background."""
        before = self.selected()
        self.letters = {str(d.id): d for d in letters}
        self._unreadable.clear()
        self.table.set_rows(self._row(d) for d in letters)
        self.count_label.configure(text=f"{len(letters):,} parked" if letters else "Nothing parked: every message was applied.")
        after = self.selected()
        if after is None or before is None or after.id != before.id or after.attempts != before.attempts:
            self._selected()   # another letter, or the same one tried again: read it anew
        self._fill()

    def _row(self, letter: DeadLetter) -> Row:
        contents = self.contents.get(letter.id)
        held = held_short(contents) if contents else ("not read" if letter.id in self._unreadable else "…")
        trouble = SHORT[contents.trouble] if contents else ""
        branch = sender_words(letter.branch or (contents.branch if contents else None), self.branch_name)
        return Row(str(letter.id), (letter.id, clock(letter.received_at), branch, held, trouble, f"{letter.attempts:,}"), "bad")

    def _fill(self) -> None:
        """Read, one at a time in a worker, what each listed letter held, for the table."""
        if self._filling or self.read_letter is None:
            return
        todo = [d for d in self.letters.values() if d.id not in self.contents and d.id not in self._unreadable]
        if not todo:
            return
        letter, read = todo[0], self.read_letter
        self._filling = True

        def done(ok: bool, value) -> None:
            self._filling = False
            if ok and value is not None:
                self.contents[letter.id] = value.contents
            else:
                self._unreadable.add(letter.id)
            if str(letter.id) in self.letters:
                self.table.set_rows(self._row(d) for d in self.letters.values())
            self._fill()

        self._fill_job.submit(lambda: read(letter.id), done)

    # ------------------------------------------------------------ the selected letter
    def selected(self) -> DeadLetter | None:
        iid = self.table.selected()
        return self.letters.get(iid) if iid else None

    def _selected(self) -> None:
        letter = self.selected()
        state = "normal" if letter else "disabled"
        self.retry_button.configure(state=state)
        self.discard_button.configure(state=state)
        self.details = None
        if letter is None:
            self._show_detail("", Words(""), "")
            return
        contents = self.contents.get(letter.id)
        self._show_detail(held_words(contents, self.branch_name) if contents else READING,
                          Words(""), f"Received {clock(letter.received_at)}.")
        if self.read_letter is None:
            return
        read = self.read_letter

        def done(ok: bool, value) -> None:
            current = self.selected()
            if current is None or current.id != letter.id:
                return
            if not ok or value is None:
                size = "" if ok else f" ({value.__class__.__name__})"
                self._show_detail(f"What it held could not be read{size}.",
                                  Words("See Details.", "muted", letter.reason), "")
                return
            self.details = value
            self.contents[letter.id] = value.contents
            self._show_detail(held_words(value.contents, self.branch_name),
                              Words(advice(value.contents, letter, self.branch_name), "normal", technical(value, letter)),
                              history_words(value.attempts))

        self._detail_job.submit(lambda: read(letter.id), done)

    def _show_detail(self, held: str, todo: Words, history: str) -> None:
        self.held.configure(text=held)
        self.todo.show(todo)
        self.history.configure(text=history)

    @property
    def detail_text(self) -> str:
        """Everything the pane under the table says, details included (for tests)."""
        return "\n".join(t for t in (str(self.held.cget("text")), self.todo.text, str(self.history.cget("text")),
                                     self.todo.details) if t)

    def _retry(self) -> None:
        letter = self.selected()
        if letter:
            self.on_retry(letter.id)

    def _discard(self) -> None:
        letter = self.selected()
        if letter:
            self.on_discard(letter.id)
