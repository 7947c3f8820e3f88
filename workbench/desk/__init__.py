"""The desk: task files, memos and claims in `desk/` at the repository's root, shared by git.

    from workbench import desk
    desk.add("Referee the draft", to="referee", why="the author cannot see its gaps")
    print(desk.board())                    # what waits for whom, what is in progress
    desk.claim("referee-the-draft", by="claude")
    desk.done("referee-the-draft", by="claude", outputs=["reviews/referee.md"])
    desk.memo("Referee report", to="author", flags=["paper/draft.md:12: unsupported"])

Plain Markdown files with front matter, one commit per change (see `items` for the folders,
`actions` for how changes are shared). The same from the shell: `workbench desk ...`.
"""

from workbench.desk.actions import add, board, claim, done, memo, release, take
from workbench.desk.board import Board, Entry
from workbench.desk.items import FOLDER, Claim, Done, Flag, Item

__all__ = [
    "FOLDER",
    "Board",
    "Claim",
    "Done",
    "Entry",
    "Flag",
    "Item",
    "add",
    "board",
    "claim",
    "done",
    "memo",
    "release",
    "take",
]
