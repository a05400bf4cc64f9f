import { h } from './dom.ts';

const BUFFER_ROWS = 30;

/**
 * Fills a tbody with only the rows near the viewport, between two spacer rows that keep the
 * scrollbar true: a 1,000-row leaderboard lays out as fast as a 60-row one. Rows must have a fixed
 * height (CSS `tr.fixed`). Small tables are drawn whole.
 */
export function windowedRows(
  tbody: HTMLTableSectionElement,
  count: number,
  row: (i: number) => HTMLTableRowElement,
  opts: { rowHeight: number; columns: number; signal: AbortSignal; threshold?: number },
) {
  if (count <= (opts.threshold ?? 150)) {
    for (let i = 0; i < count; i++) tbody.appendChild(row(i));
    return;
  }
  tbody.dataset.rows = String(count);
  const spacer = () =>
    h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td', { colspan: opts.columns }));
  const top = spacer();
  const bottom = spacer();
  let shown = '';
  const draw = () => {
    const offset = -tbody.getBoundingClientRect().top;
    // Clamped to the table: scrolled past its end (to what follows it), the spacers keep their
    // total height instead of growing the page.
    const first = Math.min(count, Math.max(0, Math.floor(offset / opts.rowHeight) - BUFFER_ROWS));
    const last = Math.min(
      count,
      Math.max(first, Math.ceil((offset + innerHeight) / opts.rowHeight) + BUFFER_ROWS),
    );
    if (`${first}-${last}` === shown) return;
    shown = `${first}-${last}`;
    top.style.height = `${first * opts.rowHeight}px`;
    bottom.style.height = `${(count - last) * opts.rowHeight}px`;
    const rows: HTMLTableRowElement[] = [];
    for (let i = first; i < last; i++) rows.push(row(i));
    tbody.replaceChildren(top, ...rows, bottom);
  };
  let queued = false;
  const onScroll = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      if (tbody.isConnected) draw();
    });
  };
  addEventListener('scroll', onScroll, { passive: true, signal: opts.signal });
  addEventListener('resize', onScroll, { passive: true, signal: opts.signal });
  // First draw once the table is in the document and its position known.
  requestAnimationFrame(draw);
  tbody.replaceChildren(top, bottom);
  bottom.style.height = `${count * opts.rowHeight}px`;
}
