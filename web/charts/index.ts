// Pure vega-lite spec builders for the leaderboard UI: plain data in, a spec out (no DOM, no
// fetch). The UI renders them with vega-embed, canvas renderer for dense series.
export { ema } from './ema.ts';
export { lossChart, type LossChartInput, type LossPoint } from './loss-chart.ts';
export { deltaHeatmap, type DeltaCell, type DeltaHeatmapInput } from './delta-heatmap.ts';
export { leaderboardScores, type VersionScore } from './leaderboard-scores.ts';
export type { XMode } from './x-axis.ts';
export { runsOverlay, type RunPoint } from './runs-overlay.ts';
