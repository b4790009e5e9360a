"""Make the Great Expectations data docs read offline: no page loads anything from the network.

GX's pages load jQuery, Bootstrap, bootstrap-table, Font Awesome and Vega from CDNs and its logo from S3; offline
the index page is empty (bootstrap-table fills its tables from an inline script) and the status icons are blank.
After GX has written the site, every page under the docs folder is rewritten in place (atomically):

    external <script>, <link> and <img> go; every inline script goes too (each one needs jQuery)
    the index's tables are written as plain HTML rows from the data GX put in its script
    (a list of links to every page when that cannot be read)
    the logo points at the site's own static/images copy; GX's marketing footers go
    one small stylesheet (layout, tables, badges, status marks for the icons) and, on validation pages,
    the "Failed Only" filter in a few lines of plain JavaScript are added; collapsed notes and details are shown

GX's own stylesheet (data_docs_default_styles.css) is already inline in each page and stays. Plain <a href> links
to websites stay: they load nothing. No GX import: the pages are text.

    from thinkact.validation.offline_docs import make_offline
    make_offline("outputs/validate/data_docs")        # the pages rewritten, as a list of paths
"""
from __future__ import annotations

import ast
import html
import os
import re
from pathlib import Path
from typing import Any

from thinkact.io import atomic_write_text

# an attribute value that loads from elsewhere: http(s):// or protocol-relative //host
_EXTERNAL = r"""["']?(?:https?:)?//"""
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.S | re.I)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*" + _EXTERNAL + r"[^>]*>", re.I)
_EXTERNAL_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*([\"'])((?:https?:)?//[^\"']*)\1[^>]*>", re.I | re.S)
_CSS_URL = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", re.I)
_FOOTER = re.compile(r"<footer\b.*?</footer\s*>", re.S | re.I)
_ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.S | re.I)
_EMPTY_TABLE = r"<table\s[^>]*\bid\s*=\s*\"{id}\"[^>]*>\s*</table>"
_BOOTSTRAP_TABLE = re.compile(
    r"\$\('#(?P<id>[^']+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*columns:\s*(?P<columns>\[.*?\]),\s*"
    r"data:\s*(?P<data>\[.*?\]),\s*toolbar:", re.S)
_TAB_PANE = re.compile(r"(<div\s+class=\"tab-pane[^\"]*\"\s+id=\"([^\"]+)\"[^>]*>)", re.S)

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: #212529; background: #fff; }
a { color: #0b5cad; text-decoration: none; } a:hover { text-decoration: underline; }
h4, h5, h6 { margin: .2rem 0 .4rem; font-weight: 600; } h4 { font-size: 1.3rem; } h5 { font-size: 1.1rem; }
h6 { font-size: .95rem; } .lead { color: #555; }
.navbar { display: flex; align-items: center; height: auto !important; padding: 6px 24px;
          border-bottom: 1px solid #dee2e6; background: #fff; position: sticky; top: 0; z-index: 10; }
.navbar-brand a { background: none !important; }
.navbar-brand img { height: 36px !important; visibility: visible !important; }
.breadcrumb { display: flex; flex-wrap: wrap; list-style: none; margin: 0 0 0 16px; padding: 0; }
.breadcrumb-item + .breadcrumb-item::before { content: "/"; padding: 0 .5em; color: #6c757d; }
.container-fluid { padding: 12px 24px; } .ge-section { padding-left: 0; padding-right: 0; }
.row { display: flex; flex-wrap: wrap; }
.col-12 { flex: 0 0 100%; max-width: 100%; } .col-6 { flex: 0 0 50%; max-width: 50%; }
.col-lg-2 { flex: 0 0 18%; max-width: 18%; padding-right: 16px; }
.col-lg-10 { flex: 0 0 82%; max-width: 82%; }
@media (max-width: 900px) { .col-lg-2, .col-lg-10, .col-6 { flex: 0 0 100%; max-width: 100%; } }
.sticky { top: 64px; }
.ge-navigation-sidebar-link { word-break: normal !important; overflow-wrap: anywhere !important; }
.table-responsive { overflow-x: auto; }
table.table { width: 100%; border-collapse: collapse; margin: .25rem 0 1rem; color: #212529 !important;
              background: transparent !important; }
.table th, .table td { padding: .3rem .5rem; border-top: 1px solid #dee2e6; text-align: left; vertical-align: top; }
.table thead th { border-bottom: 2px solid #dee2e6; background: #f6f7f9; }
.table tbody tr:nth-child(even) { background: #fafbfc; }
[hidden] { display: none !important; }
.alert { padding: .45rem .75rem; border-radius: 4px; margin: .6rem 0 .3rem; border: 1px solid #d6d8db; }
.alert-secondary { background: #e9ecef; } .alert-info { background: #d1ecf1; border-color: #bee5eb; }
.badge { display: inline-block; padding: .05em .4em; border-radius: 4px; font-size: 85%; font-weight: 600;
         background: #6c757d; color: #fff; word-break: break-all; }
.badge-info { background: #17a2b8; } .badge-danger { background: #dc3545; } .badge-success { background: #28a745; }
.badge-warning { background: #ffc107; color: #212529; }
.card { border: 1px solid #dee2e6; border-radius: 4px; margin: .5rem 0; }
.card-header { padding: .4rem .6rem; background: #f6f7f9; border-bottom: 1px solid #dee2e6; }
.card-body { padding: .5rem .6rem; }
.bg-light { background: #f8f9fa !important; }
.nav { list-style: none; margin: 0; padding: 0; } .nav-link { display: block; padding: .15rem .3rem; }
.nav-tabs { display: flex; gap: 1.5rem; border-bottom: 1px solid #dee2e6; margin: .5rem 0; padding: .2rem 0; }
.tab-pane { display: block !important; opacity: 1 !important; margin-bottom: 1.5rem; }
.collapse { display: block !important; }
.collapse.card { border: 0; border-left: 3px solid #c8d6e5; border-radius: 0; padding: .1rem .6rem !important;
                 margin: .2rem 0 .5rem !important; }
.collapse h6 { display: inline; margin-right: .4em; font-size: .85rem; color: #555; }
.collapse div[style*="color:red"] { display: inline; color: #34495e !important; }
.collapse div[style*="color:red"] p { display: inline; margin: 0; }
a[data-toggle="collapse"] { display: none; }
[id$="-body-table-toolbar"] { display: none; }
.text-success { color: #1e7e34; } .text-danger { color: #c82333; } .text-info { color: #138496; }
.text-warning { color: #b8860b; } .text-muted { color: #6c757d; }
.fas, .far, .fa { font-style: normal; font-weight: 700; }
.fa-check-circle::before, .fa-check::before { content: "\\2714"; }
.fa-times::before, .fa-times-circle::before { content: "\\2718"; }
.fa-exclamation-triangle::before, .fa-exclamation-circle::before { content: "\\26A0"; }
.fa-question-circle::before { content: "?"; }
.btn-group { display: flex; flex-wrap: wrap; gap: .2rem 1rem; }
.btn-group label { cursor: pointer; white-space: nowrap; }
.d-flex { display: flex; } .align-items-center { align-items: center; } .flex-column { flex-direction: column; }
.row > :not([class*="col-"]) { flex: 0 0 100%; max-width: 100%; }
.ge-section { margin-bottom: 14px !important; padding-bottom: 0 !important; }
.thinkact-offline-note { color: #6c757d; font-size: .85rem; margin: .5rem 0; }
"""

FILTER_SCRIPT = """<script>/* thinkact: GX's "Failed Only" filter, without jQuery */
function thinkactShowSucceeded(show) {
  var d = show ? "" : "none";
  document.querySelectorAll(".hide-succeeded-validation-target-child").forEach(function (e) {
    e.parentNode.style.display = d; });
  document.querySelectorAll(".hide-succeeded-validation-target").forEach(function (e) { e.style.display = d; });
  document.querySelectorAll(".hide-succeeded-validations-column-section-target-child").forEach(function (e) {
    var s = e.parentNode.parentNode;
    s.style.display = d;
    if (s.id) document.querySelectorAll('a[href$="#' + s.id + '"]').forEach(function (a) { a.style.display = d; });
  });
}
function showAllValidations() { thinkactShowSucceeded(true); }
function hideSucceededValidations() { thinkactShowSucceeded(false); }
</script>"""


def make_offline(docs_dir: str | os.PathLike) -> list[Path]:
    """Rewrite every HTML page under `docs_dir` (a GX site) so that it loads nothing from the network; returns the
    pages rewritten."""
    root = Path(docs_dir)
    pages = sorted(root.rglob("*.html"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if 'id="thinkact-offline"' not in text:  # not rewritten yet
            atomic_write_text(page, offline_page(text, root, page))
    return pages


def offline_page(text: str, root: Path, page: Path) -> str:
    """One GX page made offline (see the module docstring); `root` is the site folder, `page` the page's path."""
    up = "../" * (len(page.relative_to(root).parts) - 1)
    filter_used = "hideSucceededValidations" in text
    tables = {m["id"]: m for m in _BOOTSTRAP_TABLE.finditer(text)}
    text = _SCRIPT.sub("", text)
    for table_id, match in tables.items():
        text = re.sub(_EMPTY_TABLE.format(id=re.escape(table_id)),
                      lambda _m, m=match: _static_table(m, root, up), text, count=1)
    text = _EXTERNAL_LINK.sub("", text)
    text = _EXTERNAL_IMG.sub(lambda m: _local_image(m, root, up), text)
    text = _CSS_URL.sub("none", text)
    text = _FOOTER.sub("", text)
    text = _TAB_PANE.sub(lambda m: f"{m[1]}\n<h5>{html.escape(m[2].replace('-', ' '))}</h5>", text)
    head = f"<style id=\"thinkact-offline\">{STYLE}</style>\n"
    text = text.replace("</head>", head + "</head>", 1)
    if filter_used:
        text = text.replace("</body>", FILTER_SCRIPT + "\n</body>", 1)
    return text


def _local_image(match: re.Match, root: Path, up: str) -> str:
    """An external <img>: pointed at the site's own static/images copy of the same file, else its alt text."""
    name = match[2].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    if name and (root / "static" / "images" / name).is_file():
        return match[0].replace(match[2], f"{up}static/images/{name}")
    alt = _ALT.search(match[0])
    return f"<span>{alt[2] if alt else ''}</span>"


def _static_table(match: re.Match, root: Path, up: str) -> str:
    """The rows bootstrap-table would draw, as plain HTML; a list of links to every page when GX's data cannot
    be read."""
    try:
        columns = ast.literal_eval(match["columns"])
        rows = ast.literal_eval(match["data"])
        if not all(isinstance(x, list) and all(isinstance(d, dict) for d in x) for x in (columns, rows)):
            raise ValueError("not a list of dicts")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _page_links(root, up)
    head = "".join(f"<th>{html.escape(str(c.get('title', c.get('field', ''))))}</th>" for c in columns)
    body = []
    for row in rows:
        link = row.get("_table_row_link_path")
        cells = []
        for c in columns:
            cell = _cell(row.get(c.get("field"), ""))
            if c.get("field") == "validation_success" and row.get("_validation_success_text"):
                cell += f" {html.escape(str(row['_validation_success_text']))}"  # the icon's meaning in words
            if link and "<a " not in cell:
                cell = f'<a href="{html.escape(str(link), quote=True)}">{cell}</a>'
            cells.append(f"<td>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="{html.escape(match["id"], quote=True)}" class="table table-sm">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _cell(value: Any) -> str:
    """A cell as GX gives it: its strings are HTML GX rendered (links, icons); anything else is text."""
    return value.strip() if isinstance(value, str) else html.escape(str(value))


def _page_links(root: Path, up: str) -> str:
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html") if p.name != "index.html")
    items = "".join(f'<li><a href="{up}{html.escape(p, quote=True)}">{html.escape(p)}</a></li>' for p in pages)
    return f'<p class="thinkact-offline-note">Every page of these data docs:</p><ul>{items}</ul>'
