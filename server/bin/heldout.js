#!/usr/bin/env node
// heldout runs from its TypeScript sources; tsx compiles them on load.
import { register } from 'tsx/esm/api';

register();
await import('../cli.ts');
