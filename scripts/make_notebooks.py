"""Write the example notebooks from this source, so they stay reviewable as code.

    python scripts/make_notebooks.py          # rewrites notebooks/*.ipynb

Every notebook runs with no API key on the embedded local model (tests/test_notebooks.py
executes them with papermill). The quickstart's panel cell comes early, so that a browser
can run the cells in order and use the panel (tests/browser/).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent

KEYS_NOTE = (
    "## With your own keys\n\n"
    "Set `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` or `GEMINI_API_KEY` and the same cells work "
    "with `gpt`, `claude` and `gemini`:\n\n"
    "```python\n"
    'wb.compare("Draft a title for my paper on ...", models=["gpt", "claude", "gemini", '
    '"local"])\n'
    "```\n\n"
    "Spending caps: `wb.compare(..., budget_usd=0.50)` refuses any call that could cross the "
    "cap before it is sent; `[budget] session_usd` in `workbench.toml` caps the session."
)


def _notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text)


def _code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text)


def quickstart() -> nbformat.NotebookNode:
    """The no-key tour: the panel, compare, decide, see the log, export."""
    return _notebook(
        [
            _md(
                "# Quickstart: several models side by side\n\n"
                "This notebook runs with **no API key and no network**: it compares variants "
                "of the embedded local model (SmolLM2-135M-Instruct, tiny and often wrong, "
                "which makes disagreement easy to see). An alias such as `terse` bundles a "
                "model with a system prompt and parameters, so variants compare like "
                "different models. Every call and every decision is recorded in your lab "
                "notebook (`labbook/`, committed to git)."
            ),
            _code("import workbench as wb"),
            _md(
                "## The panel\n\n"
                "Type a prompt, press **Run**: the answers stream into one column per model "
                "while the kernel stays free; **Stop** cancels. Under each answer: tokens, "
                "cost, latency and time to first token. **pick** the best answer, **reject** "
                "one with a reason, add a **note** or tags: the status line says what was "
                "recorded. Below: a word diff of two answers, and the history of your "
                "earlier prompts to load one back."
            ),
            _code('panel = wb.panel(models=["local", "terse"], max_tokens=48)\npanel'),
            _md(
                "The same from code (this is what runs when the notebook is executed "
                "without a browser, e.g. by papermill). `panel.static()` is a plain HTML "
                "snapshot that stays readable on GitHub."
            ),
            _code(
                'panel.run("Why is the sky blue? One sentence.")\n'
                "panel.wait()\n"
                'panel.pick("local", reason="it mentions scattering")\n'
                "panel.static()"
            ),
            _md("## Compare without the panel\n\nWhich models can you use (and which lack a key)?"),
            _code("wb.models()"),
            _code(
                "cmp = wb.compare(\n"
                '    "What is the boiling point of water at sea level?",\n'
                '    models=["local", "terse", "teacher"],\n'
                ")\n"
                "cmp"
            ),
            _md("Every comparison is a pandas DataFrame too: one row per answer."),
            _code(
                'cmp.to_frame()[["model", "text", "output_tokens", "latency_s", '
                '"first_token_s", "cost_usd"]]'
            ),
            _md(
                "## Decide\n\n"
                "A decision is a record linked to the answers it judges: pick a winner, "
                'reject with a reason ("no, not that"), or note something.'
            ),
            _code(
                'picked = cmp.pick("teacher", reason="gives the number and the unit")\n'
                'rejected = cmp.reject("terse", "one word is not an answer", tags=["too-short"])\n'
                'noted = cmp.note("the local model is tiny: check numbers", tags=["caveat"])\n'
                'print("recorded", picked["id"], rejected["id"], noted["id"])'
            ),
            _md(
                "## The magic\n\n"
                "`%%compare` sends the cell as the prompt; `{name}` takes a variable from the "
                "notebook; `--out` keeps the Comparison."
            ),
            _code('%load_ext workbench\ntopic = "rainbows"'),
            _code("%%compare local terse -m 32 --out rainbow\nWhat causes {topic}? One sentence."),
            _md("## See the log\n\nEverything above is in the lab notebook, newest last."),
            _code("%workbench log -n 8"),
            _code("wb.log.decisions()"),
            _md("## Export the dated record"),
            _code('record = wb.log.export("md", "labbook-record.md")\nprint(record[:1200])'),
            _md(KEYS_NOTE),
        ]
    )


def side_by_side() -> nbformat.NotebookNode:
    """Exploration: system prompts, parameters, samples, diffs of two answers."""
    return _notebook(
        [
            _md(
                "# Side-by-side exploration\n\n"
                "Try one question several ways at once: different models, system prompts, "
                "temperatures and repeated samples, and see exactly where two answers differ."
            ),
            _code(
                "from IPython.display import HTML\n\n"
                "import workbench as wb\n"
                "from workbench.widgets.diff import word_diff_html"
            ),
            _md("## Aliases are variants: the same model with its own system prompt"),
            _code(
                'question = "Explain recursion to a ten year old."\n'
                'cmp = wb.compare(question, models=["local", "terse", "teacher"], max_tokens=40)\n'
                "cmp"
            ),
            _md("## Your own system prompt (it replaces an alias's own)"),
            _code(
                "pirate = wb.compare(\n"
                '    question, models=["local", "teacher"], system="Answer like a pirate.", '
                "max_tokens=40\n"
                ")\n"
                "pirate"
            ),
            _md("## Where do two answers differ? A word-level diff"),
            _code('HTML(word_diff_html(cmp["local"].text, pirate["local"].text))'),
            _md(
                "## Samples: how stable is an answer?\n\n"
                "`samples=3` asks each model three times; with a `seed`, sample *n* uses "
                "`seed + n`, so the samples differ and every one of them can be reproduced."
            ),
            _code(
                "again = wb.compare(\n"
                '    "Give me a name for a cat.",\n'
                '    models=["local", "terse"],\n'
                "    samples=3,\n"
                "    temperature=0.9,\n"
                "    seed=1,\n"
                "    max_tokens=12,\n"
                ")\n"
                "again"
            ),
            _code(
                'again.to_frame().groupby("model", observed=True)["text"].agg(["nunique", "count"])'
            ),
            _md("## The panel, with everything above as controls"),
            _code(
                'explore = wb.panel(models=["local", "teacher"], temperature=0.7, samples=2, '
                "max_tokens=40)\n"
                'explore.run("What is a prime number?")\n'
                "explore.wait()\n"
                "explore.static()"
            ),
            _md(
                "In JupyterLab, display `explore` itself to get the live controls; "
                "`explore.diff` shows the word diff of any two answers."
            ),
        ]
    )


def many_prompts() -> nbformat.NotebookNode:
    """pandas: many prompts across models, scored and summarised as tables."""
    return _notebook(
        [
            _md(
                "# Many prompts across models, in pandas\n\n"
                "Send a list of prompts to several models at once, then analyse the answers "
                "as DataFrames: pivots, per-model figures, a simple score."
            ),
            _code("import re\n\nimport pandas as pd\n\nimport workbench as wb"),
            _code(
                "cases = pd.DataFrame(\n"
                "    {\n"
                '        "prompt": [\n'
                '            "What is 2+2?",\n'
                '            "What is the capital of France?",\n'
                '            "Name a primary colour.",\n'
                '            "How many legs does a spider have?",\n'
                "        ],\n"
                '        "expected": ["4", "Paris", "red|blue|yellow", "8|eight"],\n'
                "    }\n"
                ")\n"
                'many = wb.compare(list(cases["prompt"]), models=["local", "terse"], '
                "max_tokens=24)\n"
                "many"
            ),
            _md("## Prompt x model"),
            _code("many.pivot()"),
            _code('many.pivot("output_tokens")'),
            _md("## A score: does the answer contain what we expected?"),
            _code(
                'frame = many.to_frame().merge(cases, on="prompt")\n'
                'frame["correct"] = [\n'
                "    re.search(pattern, text, re.IGNORECASE) is not None\n"
                '    for text, pattern in zip(frame["text"], frame["expected"], strict=True)\n'
                "]\n"
                'frame.pivot(index="prompt", columns="model", values="correct")'
            ),
            _code(
                'frame.groupby("model", observed=True).agg(\n'
                '    correct=("correct", "mean"),\n'
                '    mean_latency_s=("latency_s", "mean"),\n'
                '    output_tokens=("output_tokens", "sum"),\n'
                '    cost_usd=("cost_usd", "sum"),\n'
                ")"
            ),
            _md("## Do the models agree?"),
            _code(
                'answers = many.pivot()\nanswers["agree"] = answers.nunique(axis=1) == 1\nanswers'
            ),
            _md(
                "## The same from the lab notebook\n\n"
                "Everything ever sent is there too: the latest answer of each model to each "
                "prompt, across sessions."
            ),
            _code("wb.log.answers()"),
        ]
    )


def export_log() -> nbformat.NotebookNode:
    """The dated log: filter it, check it, export it as Markdown, HTML, JSONL or CSV."""
    return _notebook(
        [
            _md(
                "# Exporting the dated log\n\n"
                "The lab notebook holds every call and decision, dated, hash-chained and "
                "committed to git. This notebook records a little work, then filters, "
                "verifies and exports it."
            ),
            _code("from datetime import date\nfrom pathlib import Path\n\nimport workbench as wb"),
            _code(
                "cmp = wb.compare(\n"
                '    "Suggest a title for a paper on bird song.", models=["local", "teacher"], '
                "max_tokens=24\n"
                ")\n"
                'cmp.pick("teacher", reason="more specific", tags=["titles"])\n'
                "cmp"
            ),
            _md("## Today's records"),
            _code(
                "today = date.today().isoformat()\n"
                "log = wb.log.to_frame(since=today)\n"
                'log[["ts", "kind", "model", "prompt", "verdict", "reason", "cost_usd"]]'
            ),
            _code("wb.log.cost_by_model_by_day()"),
            _code('wb.log.decisions(tag="titles")'),
            _md("## Is the record intact?"),
            _code("print(wb.log.verify().summary())"),
            _md("## Export"),
            _code(
                'out = Path("exports")\n'
                "out.mkdir(exist_ok=True)\n"
                'for fmt in ("md", "html", "jsonl", "csv"):\n'
                '    wb.log.export(fmt, out / f"labbook-{today}.{fmt}", since=today)\n'
                "sorted(p.name for p in out.iterdir())"
            ),
            _code('print((out / f"labbook-{today}.md").read_text()[:1500])'),
            _md(
                "From a terminal: `workbench log export --since 2026-11-01 --format md` "
                "(see `workbench log --help`)."
            ),
        ]
    )


def files_and_schemas() -> nbformat.NotebookNode:
    """What today's models take: files, structured output, reasoning, follow-ups."""
    return _notebook(
        [
            _md(
                "# Files, schemas, reasoning and follow-ups\n\n"
                "Each provider gets these in its own native form; a model that cannot take "
                "something says so **in its own column, before anything is sent**, and the "
                "others run. Without keys, `gpt` fails in its column (set `OPENAI_API_KEY`); "
                "the local model runs everything it can."
            ),
            _code(
                "from pathlib import Path\n\n"
                "import matplotlib\n\n"
                'matplotlib.use("Agg")\n'
                "import matplotlib.pyplot as plt\n"
                "from pydantic import BaseModel\n\n"
                "import workbench as wb\n\n"
                "fig, ax = plt.subplots(figsize=(3, 2))\n"
                'ax.bar(["2024", "2025", "2026"], [3, 5, 9])\n'
                'ax.set_title("Papers per year")\n'
                'fig.savefig("fig.png")\n'
                'Path("notes.txt").write_text("Met Ada. The audit is due Friday. Budget: 5 USD.")'
            ),
            _md(
                "## Files\n\n"
                "Images, PDFs and text files: `files=[...]` (the magic and the CLI take "
                "`-f`, the panel has *attach files*). The lab notebook keeps each file once, "
                "named by its sha256, and the request hash covers the bytes."
            ),
            _code(
                "chart = wb.compare(\n"
                '    "What does this chart show? One sentence.", files=["fig.png"], '
                'models=["gpt", "local"]\n'
                ")\n"
                "chart"
            ),
            _code(
                "notes = wb.compare(\n"
                '    "When is the audit due?", files=["notes.txt"], models=["local", "teacher"], '
                "max_tokens=48\n"
                ")\n"
                "notes"
            ),
            _md(
                "## Structured output\n\n"
                "`schema=` takes a JSON Schema or a pydantic model; each provider uses its "
                "native structured mode (the local model, llama.cpp's JSON grammar). "
                "`Reply.data` holds the value, and `to_frame(expand=True)` spreads its fields "
                "into columns, so extractions compare cell by cell."
            ),
            _code(
                "class Paper(BaseModel):\n"
                '    """The title of a paper and the year it came out."""\n\n'
                "    title: str\n"
                "    year: int\n\n\n"
                "facts = wb.compare(\n"
                "    \"Extract the title and the year: 'Attention Is All You Need' came out in "
                '2017.",\n'
                "    schema=Paper,\n"
                '    models=["local", "teacher"],\n'
                "    max_tokens=64,\n"
                ")\n"
                'facts.to_frame(expand=True)[["model", "ok", "data.title", "data.year"]]'
            ),
            _md(
                "## Reasoning\n\n"
                '`reasoning="low" | "medium" | "high"` (or a budget of tokens) goes to each '
                "provider in its own form; reasoning tokens are counted apart and any thinking "
                "text is kept apart from the answer. The local model does not reason: its "
                "column says so."
            ),
            _code('wb.compare("Is 221 a prime number?", models=["gpt", "local"], reasoning="low")'),
            _md(
                "## Follow-ups\n\n"
                "Each model continues **its own** conversation (its earlier answer in the "
                "history). Every record names the one it follows, so the lab notebook keeps "
                "the thread, and replay answers it offline."
            ),
            _code(
                'more = facts.follow_up("Are you sure? Check the year.")\n'
                'more.to_frame()[["model", "text", "parent"]]'
            ),
            _code('wb.log.thread(more.record_id("local"))[["kind", "model", "prompt", "text"]]'),
        ]
    )


def statistics() -> nbformat.NotebookNode:
    """Statistics you can defend: intervals, paired tests, plans, scorers against humans, ranks."""
    return _notebook(
        [
            _md(
                "# Statistics you can defend\n\n"
                '"local 0.33, terse 0.27" on a handful of items says nothing until it says how '
                "sure it is. This notebook runs a small audit on two variants of the embedded "
                "local model and reads it with intervals, a paired test, a plan for the next "
                "sweep and a check of the scorer against a human; then it ranks models by the "
                "preferences recorded in the lab notebook. No key, no network."
            ),
            _code(
                "from pathlib import Path\n\n"
                "from IPython.display import display\n\n"
                "import workbench as wb\n"
                "from workbench import audit\n\n"
                'Path("capitals.yaml").write_text("""\\\n'
                "name: capitals\n"
                "instructions: Answer with the name of the city only.\n"
                'template: "What is the capital of {country}?"\n'
                "scorer: contains\n"
                "models: [local, teacher]\n"
                "params: {max_tokens: 12, temperature: 0}\n"
                "items:\n"
                "  - {id: fr, country: France, expected: Paris}\n"
                "  - {id: jp, country: Japan, expected: Tokyo}\n"
                "  - {id: it, country: Italy, expected: Rome}\n"
                "  - {id: de, country: Germany, expected: Berlin}\n"
                "  - {id: es, country: Spain, expected: Madrid}\n"
                "  - {id: eg, country: Egypt, expected: Cairo}\n"
                "  - {id: au, country: Australia, expected: Canberra}\n"
                "  - {id: ca, country: Canada, expected: Ottawa}\n"
                "  - {id: tr, country: Turkey, expected: Ankara}\n"
                "  - {id: ch, country: Switzerland, expected: Bern}\n"
                "  - {id: ng, country: Nigeria, expected: Abuja}\n"
                '""")\n'
                'run = audit.run_audit("capitals.yaml", notebook=False, progress=False)\n'
                "print(run.summary())"
            ),
            _md(
                "## Every rate with its interval\n\n"
                "Wilson's score interval with one answer per item; with `samples: N`, a "
                "bootstrap over items (the answers to one item move together). On eleven items "
                "the intervals are wide: that is the point."
            ),
            _code(
                'run.per_model()[["scored", "right", "accuracy", "accuracy_low", "accuracy_high", '
                '"interval"]]'
            ),
            _md(
                "## Two models on the same items\n\n"
                "The difference in accuracy with its interval and McNemar's exact test on the "
                "items where one is right and the other wrong; with more models, Holm-adjusted "
                "p-values. `workbench audit run` prints the same sentences."
            ),
            _code(
                "pairs = run.paired()\n"
                'print(pairs.loc[0, "sentence"])\n'
                'pairs[["a", "b", "items", "a_only", "b_only", "difference", "low", "high", '
                '"p_value"]]'
            ),
            _md(
                "## How many items the next sweep needs\n\n"
                "This run as a pilot: to detect a 10-point difference with 80% power, from how "
                "often the two differ here. Or from a discordance you expect."
            ),
            _code(
                'print(run.plan(0.1).loc[0, "sentence"])\n'
                'print(audit.plan(difference=0.1, discordance=0.3).loc[0, "sentence"])'
            ),
            _md(
                "## The scorer checked against a human\n\n"
                "A human reviews the items that need one, and spot-checks two more (here: the "
                "answer that names the expected city is right); each verdict is a decision "
                "record. Then the scorer "
                "(or each judge of a panel) is compared with the humans: Cohen's kappa and the "
                "confusion table."
            ),
            _code(
                'rows = {row["item"]: row for row in run.rows}\n'
                "checked = list(run.needing_human().index) + list(run.outcomes().index[:2])\n"
                "for item in dict.fromkeys(checked):\n"
                "    row = rows[item]\n"
                '    city = row["expected"].lower()\n'
                '    right = [a["model"] for a in row["answers"] if city in a["text"].lower()]\n'
                "    pick = right[0] if right else None\n"
                '    run.decide(item, pick=pick, reason="by the expected city")\n'
                "judges = run.judges()\n"
                'print(judges.iloc[0]["sentence"])\n'
                "judges"
            ),
            _code(
                "shown = list(run.outcomes().index[:1])\n"
                "for item in shown:\n"
                "    display(run.compare(item))"
            ),
            _md(
                "## A preference leaderboard\n\n"
                "Every pick, reject, arena verdict and rating in the lab notebook compares "
                "models. Here a researcher who likes short answers picks the shortest of three "
                "on each prompt; the Bradley-Terry fit ranks the models by those preferences, "
                "with intervals. It measures your preferences on your prompts, not the models."
            ),
            _code(
                "prompts = [\n"
                '    "Name a colour.",\n'
                '    "What is 2+2?",\n'
                '    "Say hello.",\n'
                '    "Name a fruit.",\n'
                '    "What day comes after Monday?",\n'
                "]\n"
                'many = wb.compare(prompts, models=["local", "terse", "teacher"], max_tokens=24)\n'
                "for i in range(len(prompts)):\n"
                "    lengths = {m: len(many.reply(m, prompt=i).text) for m in many.models}\n"
                '    many.pick(min(lengths, key=lengths.get), prompt=i, tags=["brevity"])\n'
                'board = wb.log.leaderboard(tag="brevity")\n'
                "board"
            ),
            _md(
                "## What made the run\n\n"
                "Audit notebooks keep this in their metadata (`workbench`), with no machine "
                "path: models and the versions reported, params, the exercise's hash, prices, "
                "sessions, the repository's commit, the workbench version."
            ),
            _code(
                "made = run.provenance()\n"
                '{k: made[k] for k in ("exercise", "models", "prices", "workbench_version")}'
            ),
        ]
    )


WORKFLOW_YAML = """\
name: paper
roles:                  # who is best at what (with keys: gpt, claude, gemini)
  writer: teacher
  referee: terse
  editor: local
steps:
  - id: draft
    role: writer
    prompt: draft
    inputs: {notes: notes.md}
    output: paper/draft.md
    alternatives: 2     # two drafts: a person picks one
  - id: referee
    role: referee
    prompt: referee
    inputs: {paper: draft}
    output: reviews/referee.md
    memo: editor        # the review also goes on the desk, for the editor
  - id: response
    role: editor
    prompt: response
    inputs: {paper: draft, review: desk}   # the editor takes its memo (or a task) from the desk
    output: paper/response.md
"""


def workflow() -> nbformat.NotebookNode:
    """A three-model workflow (draft, referee, response), the desk, versions and briefs."""
    return _notebook(
        [
            _md(
                "# A three-model workflow: draft, referee, response\n\n"
                "Each step goes to the model best at it, and the models coordinate **through "
                "the repository**: prompts are files (`prompts/NAME.md`), a workflow file "
                "gives each step a role, a model, a prompt, inputs and an output, and every "
                "output is committed with its call records. A review is left on the **desk** "
                "(`desk/`) as a memo, where the next model finds it. Every session starts from "
                "zero, so the repository is the memory. This notebook runs on variants of the "
                "embedded local model (no key): `teacher` writes, `terse` referees, `local` "
                "answers the referee; with keys, name `gpt`, `claude` and `gemini` instead."
            ),
            _code(
                "import os\n"
                "import subprocess\n"
                "from pathlib import Path\n\n"
                "# the example lives in a git repository of its own: it is the channel\n"
                'if Path.cwd().name != "paper-demo":\n'
                '    Path("paper-demo/prompts").mkdir(parents=True, exist_ok=True)\n'
                '    os.chdir("paper-demo")\n'
                "for args in (\n"
                '    ["init", "-q", "-b", "main"],\n'
                '    ["config", "user.name", "Ada"],\n'
                '    ["config", "user.email", "ada@example.org"],\n'
                "):\n"
                '    subprocess.run(["git", *args], check=True)'
            ),
            _md(
                "## Prompt files\n\n"
                "Front matter (role, model, system prompt, parameters, schema) and a body with "
                "`{fields}`. Each call made from one records the file, its git blob hash and "
                "whether it differed from the commit."
            ),
            _code(
                "%%writefile notes.md\n"
                "Rainbows: sunlight enters raindrops, is refracted, reflected once inside, and\n"
                "leaves split into colours; red bends least, violet most. The bow sits at about\n"
                "42 degrees from the point opposite the sun."
            ),
            _code(
                "%%writefile prompts/draft.md\n---\nrole: writer\n"
                "description: A first draft from the notes.\ntemperature: 0.8\nmax_tokens: 60\n"
                "---\nWrite two sentences for a science magazine from these notes.\n\n{notes}"
            ),
            _code(
                "%%writefile prompts/referee.md\n---\nrole: referee\n"
                "system: You are a demanding referee. Name one weakness.\nmax_tokens: 40\n---\n"
                "Referee this text.\n\n{paper}"
            ),
            _code(
                "%%writefile prompts/response.md\n---\nrole: editor\nmax_tokens: 60\n---\n"
                "Improve the text to answer the referee.\n\nText:\n{paper}\n\nReferee:\n{review}"
            ),
            _md(
                "## The workflow: roles by strength\n\n"
                "A step runs when its inputs exist and its output is missing or stale (an "
                "input, its prompt file or its model changed), make-style."
            ),
            _code("%%writefile paper.yaml\n" + WORKFLOW_YAML.rstrip("\n")),
            _code(
                "import workbench as wb\n\n"
                'subprocess.run(["git", "add", "notes.md", "prompts", "paper.yaml"], check=True)\n'
                'subprocess.run(["git", "commit", "-qm", "The workflow"], check=True)\n\n'
                'flow = wb.workflow("paper.yaml")\n'
                "flow.status()"
            ),
            _md("## Two drafts, side by side"),
            _code("flow.run()"),
            _md(
                "## A person picks one\n\n"
                "The pick is a decision record in the lab notebook (both drafts linked, the "
                "reason kept) and a commit of the output."
            ),
            _code('flow.pick("draft", 2, reason="the clearer of the two")'),
            _md(
                "## The referee, and the response to it\n\n"
                "`terse` leaves its review on the desk as a memo for the editor; `local` "
                "claims it, answers it, and marks it done."
            ),
            _code("flow.run()"),
            _md(
                "## The repository is the channel\n\n"
                "Plain files and commits: `ls`, `cat` and `git log` show everything."
            ),
            _code("!git log --format=%s -n 12\n!ls desk/memos desk/done"),
            _code("from workbench import desk\n\nprint(desk.board().text(everything=True))"),
            _md(
                "## A person is a participant too\n\n"
                "A task on the desk for the editor: the response step takes it next."
            ),
            _code(
                'desk.add("Say where the 42 degrees come from", to="editor", '
                'why="readers always ask")\n'
                "flow.status()"
            ),
            _code("flow.run()"),
            _md(
                "## Edit a prompt: only what depends on it is redone\n\n"
                "(Not committed yet: the calls record its version as `-dirty`.)"
            ),
            _code(
                'Path("prompts/referee.md").write_text(\n'
                '    "---\\nrole: referee\\nsystem: You are a grumpy referee.\\n"\n'
                '    "max_tokens: 40\\n"\n'
                '    "---\\nFind the weakest sentence.\\n\\n{paper}\\n"\n'
                ")\n"
                "flow.status()"
            ),
            _code("flow.run()"),
            _md("## Which version of which prompt made what"),
            _code(
                'wb.log.to_frame(kind="call")[["model", "prompt_name", "prompt_version", '
                '"text"]].tail(6)'
            ),
            _md(
                "## Each model's own brief\n\n"
                "What a model did here, short enough to paste into its next prompt (a step "
                "with `brief: true` gets it in its system prompt)."
            ),
            _code('print(wb.log.brief("terse", roles=["referee"]))'),
        ]
    )


NOTEBOOKS: dict[str, Callable[[], nbformat.NotebookNode]] = {
    "quickstart": quickstart,
    "side_by_side": side_by_side,
    "many_prompts": many_prompts,
    "export_log": export_log,
    "files_and_schemas": files_and_schemas,
    "statistics": statistics,
    "workflow": workflow,
}


if __name__ == "__main__":
    for name, build in NOTEBOOKS.items():
        target = ROOT / "notebooks" / f"{name}.ipynb"
        nbformat.write(build(), target)
        print(f"wrote {target.relative_to(ROOT)}")
