export interface RunSearch {
  status?: string[];
  nameContains?: string;
  params?: { key: string; op: '=' | '!='; value: string }[];
  tags?: { key: string; op: '=' | '!=' | 'exists'; value?: string }[];
  metrics?: { key: string; op: string; value: number }[];
}

const CLAUSE = /^(metrics|params|tags)\.([\w./-]+)\s*(<=|>=|!=|=|<|>)\s*(.+)$/;

/**
 * The runs page's filter box, MLflow's grammar in small: clauses joined by `and`, such as
 * `metrics.val_loss < 1.2 and params.lr = 0.001 and status = finished and name ~ lora`.
 * Throws with the clause it could not read.
 */
export function parseRunFilter(text: string): RunSearch {
  const search: RunSearch = {};
  for (const raw of text.split(/\s+and\s+/i)) {
    const clause = raw.trim();
    if (!clause) continue;
    const status = /^status\s*=\s*(\w+)$/i.exec(clause);
    if (status) {
      (search.status ??= []).push(status[1]!.toLowerCase());
      continue;
    }
    const name = /^name\s*~\s*(.+)$/i.exec(clause);
    if (name) {
      search.nameContains = unquote(name[1]!);
      continue;
    }
    const m = CLAUSE.exec(clause);
    if (!m)
      throw new Error(
        `cannot read "${clause}": use metrics.<key> < 1, params.<key> = v, tags.<key> = v, status = finished or name ~ text`,
      );
    const [, kind, key, op, value] = m as unknown as [string, string, string, string, string];
    if (kind === 'metrics') {
      const n = Number(unquote(value));
      if (!Number.isFinite(n)) throw new Error(`"${clause}": a metric compares with a number`);
      (search.metrics ??= []).push({ key, op, value: n });
    } else {
      if (op !== '=' && op !== '!=')
        throw new Error(`"${clause}": ${kind} compare with = or != only`);
      (kind === 'params' ? (search.params ??= []) : (search.tags ??= [])).push({
        key,
        op,
        value: unquote(value),
      });
    }
  }
  return search;
}

function unquote(v: string) {
  const t = v.trim();
  return /^(['"]).*\1$/.test(t) ? t.slice(1, -1) : t;
}
