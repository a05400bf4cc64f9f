export * from './enums.ts';
export * from './projects.ts';
export * from './datasets.ts';
export * from './runs.ts';
export * from './metrics.ts';
export * from './evaluations.ts';
export * from './registry.ts';
export * from './jobs.ts';
