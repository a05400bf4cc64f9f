/**
 * The heldout trainer SDK: the only module a trainer plugin imports. A plugin is a plain object
 * from `definePlugin`; the model toolkit (transformer, tokenizers, checkpoints, optimizer) comes
 * with it, so a third-party plugin needs nothing else.
 */
export * from './context.ts';
export * from './errors.ts';
export * from './plugin.ts';
export * from './starting-point.ts';
export { z } from 'zod';
export * as model from '../model/index.ts';
