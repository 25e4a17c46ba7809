"""The report `winnow demo` and `winnow stats` print: where the pages went."""

from __future__ import annotations

from warehouse.query import connect


def _table(rows: list[tuple], headers: tuple[str, ...]) -> list[str]:
    cells = [headers, *[tuple("" if v is None else str(v) for v in row) for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True))]
    lines += [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells[1:]
    ]
    return lines


def report(warehouse: str, run_id: str | None = None) -> str:
    """Pages fetched, articles per source and language, rejects per reason and source."""
    con = connect(warehouse)
    where = "WHERE run_id = ?" if run_id else ""
    params = [run_id] if run_id else []
    articles = con.execute(
        f"SELECT source, lang, count(*) FROM articles {where} GROUP BY ALL ORDER BY source, lang",
        params,
    ).fetchall()
    rejects = con.execute(
        f"SELECT reason, source, count(*) FROM rejects {where} GROUP BY ALL ORDER BY 3 DESC, 1, 2",
        params,
    ).fetchall()
    runs = con.execute(
        f"SELECT run_id, status, pages_fetched, articles, rejects, errors, rejects_by_reason FROM runs {where} ORDER BY started_at",
        params,
    ).fetchall()
    n_articles = sum(r[2] for r in articles)
    n_rejects = sum(r[2] for r in rejects)
    out = [f"warehouse: {warehouse}" + (f"  (run {run_id})" if run_id else "")]
    out.append(
        f"pages fetched: {n_articles + n_rejects}   articles kept: {n_articles}   rejected: {n_rejects}"
    )
    if runs:
        failed = [r for r in runs if r[1] != "ok"]
        out.append(
            f"runs: {len(runs)}"
            + (
                f" ({len(failed)} not ok: {', '.join(r[0] + '=' + r[1] for r in failed)})"
                if failed
                else ""
            )
        )
    out.append("")
    out.append("articles by source and language:")
    out += _table(articles, ("source", "lang", "articles")) if articles else ["  (none)"]
    out.append("")
    out.append("rejects by reason:")
    out += _table(rejects, ("reason", "source", "pages")) if rejects else ["  (none)"]
    out.append("")
    out.append("files:")
    for table in ("articles", "rejects", "runs"):
        out.append(f"  {warehouse}/{table}/")
    out.append("")
    out.append("try:")
    out.append(
        f'  winnow query --warehouse {warehouse} "select lang, count(*) as n, round(avg(word_count)) as words from articles group by lang order by n desc"'
    )
    out.append(
        f'  winnow query --warehouse {warehouse} "select reason, url, detail from rejects order by reason"'
    )
    return "\n".join(out)
